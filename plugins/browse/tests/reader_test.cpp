// The libgit2 reader on real mirrors made by the real git.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "limits.hpp"
#include "reader.hpp"
#include "test_util.hpp"

namespace mesh::browse {
namespace {
using test::RepoFixture;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1'800'000'000;  // a fixed "today" for the activity counts

std::string at(std::int64_t t) {
  return std::to_string(t) + " +0000";
}

class ReaderTest : public ::testing::Test {
 protected:
  LibGit2 lib_;
  RepoFixture r_;
  std::unique_ptr<Repo> open() {
    Error err;
    auto repo = Repo::open(r_.repos(), r_.name(), &err);
    EXPECT_TRUE(repo) << err.message;
    return repo;
  }
};

TEST_F(ReaderTest, OpenRefusesBadNamesAndMissingRepos) {
  Error err;
  EXPECT_FALSE(Repo::open(r_.repos(), "../etc", &err));
  EXPECT_EQ(err.kind, Fail::invalid);
  EXPECT_FALSE(Repo::open(r_.repos(), "nope", &err));
  EXPECT_EQ(err.kind, Fail::not_found);
  std::size_t total = 0;
  test::write_file(r_.repos() / ".mesh-empty.git" / "objects" / "x", "");
  test::write_file(r_.repos() / ".trash" / "old.git.1" / "x", "");
  EXPECT_EQ(list_repos(r_.repos(), 10, &total), std::vector<std::string>{"app"});
  EXPECT_EQ(total, 1u);
}

TEST_F(ReaderTest, AnEmptyMirrorHasNoBranches) {
  auto repo = open();
  Error err;
  EXPECT_EQ(repo->default_branch(), "");
  EXPECT_EQ(repo->branches(10, &err).total, 0u);
  EXPECT_FALSE(repo->resolve("main", &err));
  EXPECT_EQ(err.kind, Fail::not_found);
}

TEST_F(ReaderTest, BranchesAndTagsWithTheirTipsNewestFirst) {
  r_.write("a.txt", "a\n");
  std::string c1 = r_.commit("first", at(kNow - 3 * kDay));
  r_.git({"tag", "v1.0"});
  r_.git({"tag", "-a", "v1.1", "-m", "annotated"});
  r_.git({"checkout", "-q", "-b", "feature/x"});
  std::string c2 = r_.commit("on the feature", at(kNow - kDay));
  r_.git({"checkout", "-q", "main"});
  r_.push();
  r_.push_tags();
  auto repo = open();
  Error err;
  RefList b = repo->branches(10, &err);
  ASSERT_EQ(b.total, 2u);
  EXPECT_EQ(b.refs[0].name, "feature/x");  // the most recent first
  EXPECT_EQ(b.refs[0].oid, c2);
  EXPECT_EQ(b.refs[0].summary, "on the feature");
  EXPECT_EQ(b.refs[0].time, kNow - kDay);
  EXPECT_EQ(b.refs[1].name, "main");
  RefList t = repo->tags(10, &err);
  ASSERT_EQ(t.total, 2u);
  EXPECT_EQ(t.refs[0].oid, c1);  // the annotated tag is peeled to its commit
  EXPECT_EQ(t.refs[1].oid, c1);
  RefList counted = repo->branches(0, &err);  // what /repos asks for: the count alone
  EXPECT_TRUE(counted.refs.empty());
  EXPECT_EQ(counted.total, 2u);
  RefList capped = repo->branches(1, &err);
  EXPECT_EQ(capped.refs.size(), 1u);
  EXPECT_EQ(capped.total, 2u);
  EXPECT_EQ(repo->default_branch(), "main");
}

TEST_F(ReaderTest, ResolveTakesBranchesTagsAndIdsButNoExpressions) {
  std::string c1 = r_.commit("one");
  std::string c2 = r_.commit("two");
  r_.git({"tag", "v1", c1});
  r_.git({"branch", "v1-branch", c1});
  r_.push();
  r_.push_tags();
  auto repo = open();
  Error err;
  auto main = repo->resolve("main", &err);
  ASSERT_TRUE(main);
  EXPECT_EQ(main->kind, Resolved::Kind::branch);
  EXPECT_EQ(main->oid, c2);
  auto tag = repo->resolve("v1", &err);
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->kind, Resolved::Kind::tag);
  EXPECT_EQ(tag->oid, c1);
  auto id = repo->resolve(c1.substr(0, 8), &err);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->kind, Resolved::Kind::commit);
  EXPECT_EQ(id->oid, c1);
  std::string upper_hex = c2;
  for (auto& ch : upper_hex) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto upper = repo->commit_id(upper_hex, &err);
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, c2);
  for (const char* expr : {"main~1", "main^", "HEAD@{0}", ":/one", "HEAD"}) {
    EXPECT_FALSE(repo->resolve(expr, &err)) << expr;
  }
  EXPECT_FALSE(repo->resolve("nope", &err));
  EXPECT_EQ(err.kind, Fail::not_found);
  EXPECT_FALSE(repo->commit_id("0000", &err));
  EXPECT_EQ(err.kind, Fail::not_found);
}

TEST_F(ReaderTest, LogIsNewestFirstAndSaysWhenThereIsMore) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(r_.commit("c" + std::to_string(i), at(kNow - 10 + i)));
  r_.push();
  auto repo = open();
  Error err;
  bool more = false;
  auto log = repo->log(ids.back(), 3, &more, &err);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_TRUE(more);
  EXPECT_EQ(log[0].oid, ids[4]);
  EXPECT_EQ(log[2].oid, ids[2]);
  EXPECT_EQ(log[0].author.name, "Tess Ter");
  EXPECT_EQ(log[0].author.email, "t@example.com");
  EXPECT_EQ(log[0].author.time, kNow - 6);
  EXPECT_EQ(log[0].parents, std::vector<std::string>{ids[3]});
  auto all = repo->log(ids.back(), 10, &more, &err);
  EXPECT_EQ(all.size(), 5u);
  EXPECT_FALSE(more);
}

TEST_F(ReaderTest, LogInterleavesTheParentsOfAMergeByTime) {
  r_.commit("base", at(kNow - 100));
  r_.git({"checkout", "-q", "-b", "side"});
  r_.commit("side 1", at(kNow - 90));
  r_.commit("side 2", at(kNow - 70));
  r_.git({"checkout", "-q", "main"});
  r_.commit("main 1", at(kNow - 80));
  r_.commit("main 2", at(kNow - 60));
  r_.git({"merge", "-q", "--no-ff", "-m", "merge", "side"},
         {"GIT_AUTHOR_DATE=" + at(kNow - 50), "GIT_COMMITTER_DATE=" + at(kNow - 50)});
  r_.push();
  auto repo = open();
  Error err;
  bool more = false;
  auto log = repo->log(r_.git({"rev-parse", "HEAD"}), 10, &more, &err);
  std::vector<std::string> order;
  for (const auto& c : log) order.push_back(c.summary);
  EXPECT_EQ(order,
            (std::vector<std::string>{"merge", "main 2", "side 2", "main 1", "side 1", "base"}));
  EXPECT_FALSE(more);
  EXPECT_EQ(log[0].parents.size(), 2u);
  auto counts = repo->activity(log[0].oid, kNow, 1, &err);
  EXPECT_EQ(counts, std::vector<std::uint32_t>{6});  // every commit once, through both parents
}

TEST_F(ReaderTest, MessagesAreValidUtf8AndCapped) {
  std::string latin1 = "caf\xe9 summary\n\nbody";
  r_.git({"-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "--allow-empty", "-m", latin1});
  std::string big(kMaxMessageBytes + 100, 'm');
  r_.git({"commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", "-"}, {}, big);
  r_.push();
  auto repo = open();
  Error err;
  bool more = false;
  auto log = repo->log(*repo->commit_id(r_.git({"rev-parse", "HEAD"}), &err), 2, &more, &err);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_TRUE(log[0].message_cut);
  EXPECT_EQ(log[0].message.size(), kMaxMessageBytes);
  EXPECT_EQ(log[1].summary, "caf\xef\xbf\xbd summary");
}

TEST_F(ReaderTest, FindTreeBlobLinkAndSubmodule) {
  r_.write("src/main.c", "int main() {}\n");
  r_.write("b.txt", "b\n");
  r_.write("bin.dat", std::string("a\0b", 3));
  r_.write("big.txt", std::string(5000, 'x'));
  std::error_code ec;
  std::filesystem::create_symlink("src/main.c", r_.work() / "link", ec);
  ASSERT_FALSE(ec);
  std::string sub = r_.commit("files");
  // A gitlink entry, as a submodule leaves in the tree.
  r_.git({"update-index", "--add", "--cacheinfo", "160000," + sub + ",vendor"});
  r_.git({"commit", "-q", "-m", "with a submodule"});  // no add -A: it would drop the gitlink
  std::string c = r_.git({"rev-parse", "HEAD"});
  r_.push();
  auto repo = open();
  Error err;
  auto root = repo->find(c, {}, &err);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->kind, TreeEntry::Kind::tree);
  TreeListing listing = repo->tree(root->oid, 100, &err);
  ASSERT_EQ(listing.total, 6u);
  EXPECT_EQ(listing.entries[0].name, "src");  // directories first
  EXPECT_EQ(listing.entries[0].kind, TreeEntry::Kind::tree);
  std::vector<std::string> names;
  for (const auto& e : listing.entries) names.push_back(e.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"src", "b.txt", "big.txt", "bin.dat", "link", "vendor"}));
  EXPECT_EQ(listing.entries[4].kind, TreeEntry::Kind::link);
  EXPECT_EQ(listing.entries[5].kind, TreeEntry::Kind::submodule);
  EXPECT_EQ(repo->tree(root->oid, 2, &err).entries.size(), 2u);

  auto file = repo->find(c, {"src", "main.c"}, &err);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->kind, TreeEntry::Kind::blob);
  auto blob = repo->blob(file->oid, 1000, &err);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->data, "int main() {}\n");
  EXPECT_FALSE(blob->binary);
  auto bin = repo->blob(repo->find(c, {"bin.dat"}, &err)->oid, 1000, &err);
  EXPECT_TRUE(bin->binary);
  auto big = repo->blob(repo->find(c, {"big.txt"}, &err)->oid, 1000, &err);
  EXPECT_TRUE(big->too_large);
  EXPECT_EQ(big->size, 5000u);
  EXPECT_TRUE(big->data.empty());
  auto link = repo->find(c, {"link"}, &err);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->kind, TreeEntry::Kind::link);
  EXPECT_EQ(*repo->link_target(link->oid, &err), "src/main.c");
  EXPECT_EQ(repo->find(c, {"vendor"}, &err)->kind, TreeEntry::Kind::submodule);
  EXPECT_FALSE(repo->find(c, {"nope"}, &err));
  EXPECT_EQ(err.kind, Fail::not_found);
  EXPECT_FALSE(repo->find(c, {"b.txt", "below"}, &err));
}

TEST_F(ReaderTest, DiffstatCountsLinesRenamesAndBinaries) {
  r_.write("keep.txt", "1\n2\n3\n");
  r_.write("old-name.txt", "a fairly long line that survives a rename\nline two\nline three\n");
  r_.write("gone.txt", "x\ny\n");
  r_.write("img.bin", std::string("\0\1\2", 3));
  std::string root = r_.commit("root");
  r_.write("keep.txt", "1\ntwo\n3\n4\n");
  std::filesystem::rename(r_.work() / "old-name.txt", r_.work() / "new-name.txt");
  std::filesystem::remove(r_.work() / "gone.txt");
  r_.write("img.bin", std::string("\0\3\4\5", 4));
  r_.write("added.txt", "new\n");
  std::string c = r_.commit("change");
  r_.push();
  auto repo = open();
  Error err;
  auto first = repo->diffstat(root, 100, &err);
  ASSERT_TRUE(first) << err.message;
  EXPECT_TRUE(first->against.empty());
  EXPECT_EQ(first->total_files, 4u);
  for (const auto& f : first->files) EXPECT_EQ(f.status, 'A');

  auto stat = repo->diffstat(c, 100, &err);
  ASSERT_TRUE(stat) << err.message;
  EXPECT_EQ(stat->against, root);
  EXPECT_EQ(stat->total_files, 5u);
  auto file = [&](const std::string& path) {
    auto it = std::find_if(stat->files.begin(), stat->files.end(),
                           [&](const DiffFile& f) { return f.path == path; });
    EXPECT_NE(it, stat->files.end()) << path;
    return it == stat->files.end() ? DiffFile{} : *it;
  };
  EXPECT_EQ(file("keep.txt").status, 'M');
  EXPECT_EQ(file("keep.txt").additions, 2u);
  EXPECT_EQ(file("keep.txt").deletions, 1u);
  EXPECT_EQ(file("new-name.txt").status, 'R');
  EXPECT_EQ(file("new-name.txt").old_path, "old-name.txt");
  EXPECT_EQ(file("gone.txt").status, 'D');
  EXPECT_EQ(file("gone.txt").deletions, 2u);
  EXPECT_TRUE(file("img.bin").binary);
  EXPECT_EQ(file("added.txt").status, 'A');
  EXPECT_EQ(stat->additions, 3u);
  EXPECT_EQ(stat->deletions, 3u);
  auto capped = repo->diffstat(c, 2, &err);
  EXPECT_EQ(capped->files.size(), 2u);
  EXPECT_EQ(capped->total_files, 5u);
}

TEST_F(ReaderTest, ActivityCountsCommitsPerDayInTheWindow) {
  r_.commit("long ago", at(kNow - 400 * kDay));
  r_.commit("9 days ago", at(kNow - 9 * kDay));
  r_.commit("today 1", at(kNow - 60));
  std::string tip = r_.commit("today 2", at(kNow - 30));
  r_.push();
  auto repo = open();
  Error err;
  auto counts = repo->activity(tip, kNow, 10, &err);
  ASSERT_EQ(counts.size(), 10u);
  EXPECT_EQ(counts[9], 2u);  // today, oldest day first
  EXPECT_EQ(counts[0], 1u);  // nine days ago
  std::uint32_t total = 0;
  for (auto c : counts) total += c;
  EXPECT_EQ(total, 3u);
}

}  // namespace
}  // namespace mesh::browse
