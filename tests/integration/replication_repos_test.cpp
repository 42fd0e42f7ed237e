// The repo commands and the edges of pushing (issue #10 items 4-6): add-repo, remove-repo and
// restore-repo across three nodes; bad names create nothing; failed first pushes leave no
// mirror; a push over max_push_bytes says so; a kill -9 leaves nothing a restart keeps.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <random>
#include <set>
#include <string>

#include "harness.hpp"
#include "tcp_proxy.hpp"
#include "trio.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kReplicate = 60s;

// `mesh` on n with the trio's private HOME (the CLI runs git for add-repo).
Proc mesh_home(const Trio& t, const Node& n, const std::vector<std::string>& args) {
  std::vector<std::string> argv{mesh_bin(), "--root", n.root().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {"HOME=" + t.home.string(), "GIT_CONFIG_NOSYSTEM=1"}, 120s);
}

std::set<std::string> repo_names(const Node& n) {
  std::set<std::string> out;
  auto v = n.mesh_json({"repos"});
  if (!v.is_array()) return out;
  for (const auto& r : v.as_array()) out.insert(std::string(r.at("name").as_string()));
  return out;
}

// Every entry under the node's repos directory but the empty stand-in that answers a first
// push's advertisement (by design, and no repo).
std::set<std::string> repos_dir(const Node& n) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(n.root() / "repos", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name != ".mesh-empty.git") out.insert(name);
  }
  return out;
}

// Refs of a local repository: name -> oid (annotated tags as the tag object).
std::map<std::string, std::string> local_refs(const Trio& t, const fs::path& repo) {
  std::map<std::string, std::string> out;
  auto p =
      t.git({"for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"}, repo);
  std::istringstream in(p.out);
  for (std::string name, oid; in >> name >> oid;) out[name] = oid;
  return out;
}

}  // namespace

TEST(Repos, AddRepoRemoveAndRestoreRoundTrip) {
  Trio t("repos-add");
  t.start_and_pair();
  auto work = t.make_repo("app", 2);
  ASSERT_EQ(t.git({"branch", "dev"}, work).exit, 0);
  ASSERT_EQ(t.git({"checkout", "-q", "-b", "feature"}, work).exit, 0);
  t.commit(work, "feature work");
  ASSERT_EQ(t.git({"checkout", "-q", "main"}, work).exit, 0);
  ASSERT_EQ(t.git({"tag", "v1", "main~1"}, work).exit, 0);
  ASSERT_EQ(t.git({"tag", "-a", "v2", "-m", "two", "main"}, work).exit, 0);
  const auto want = local_refs(t, work);
  ASSERT_EQ(want.size(), 5u);

  auto add = mesh_home(t, t.a, {"add-repo", "app", work.string()});
  ASSERT_EQ(add.exit, 0) << add.err << add.out;
  EXPECT_NE(add.out.find("added app: pushed 3 branches and 2 tags to this node"), std::string::npos)
      << add.out;
  EXPECT_NE(add.out.find("remote 'mesh' in " + work.string() + " -> " + Trio::https(t.a, "app")),
            std::string::npos)
      << add.out;
  EXPECT_NE(add.out.find("git push mesh <branch>"), std::string::npos) << add.out;
  EXPECT_EQ(t.git({"remote", "get-url", "mesh"}, work).out, Trio::https(t.a, "app") + "\n");
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "app", want); }, kReplicate));

  // The rest of the quick start works from there: a push to `mesh`, a clone from another node.
  const std::string c3 = t.commit(work, "after add-repo");
  auto push = t.git_to(t.a, {"push", "mesh", "main"}, work);
  ASSERT_EQ(push.exit, 0) << push.err;
  EXPECT_NE(push.err.find("remote: mesh: replicated to"), std::string::npos) << push.err;
  auto clone = t.dir.path() / "clone";
  ASSERT_TRUE(eventually([&] { return refs_of(t.c, "app")["refs/heads/main"] == c3; }, kReplicate));
  ASSERT_EQ(t.git_to(t.c, {"clone", "-q", Trio::https(t.c, "app"), clone.string()}, {}).exit, 0);
  EXPECT_EQ(t.rev(clone, "HEAD"), c3);

  // The same name again is refused; a repo whose `mesh` remote points elsewhere keeps it.
  auto again = mesh_home(t, t.b, {"add-repo", "app", work.string()});
  EXPECT_EQ(again.exit, 1);
  EXPECT_NE(again.err.find("error: the mesh has a repo named app already"), std::string::npos)
      << again.err;
  auto lib = t.make_repo("lib", 1);
  ASSERT_EQ(t.git({"remote", "add", "mesh", "https://example.invalid/lib.git"}, lib).exit, 0);
  auto add_lib = mesh_home(t, t.b, {"--json", "add-repo", "lib", lib.string()});
  ASSERT_EQ(add_lib.exit, 0) << add_lib.err;
  auto doc = json::parse(add_lib.out).as_object();
  EXPECT_EQ(doc.at("name").as_string(), "lib");
  EXPECT_EQ(doc.at("refs").as_int64(), 1);
  EXPECT_EQ(doc.at("remote").as_string(), "");
  EXPECT_EQ(doc.at("remote_left").as_string(), "https://example.invalid/lib.git");
  EXPECT_EQ(t.git({"remote", "get-url", "mesh"}, lib).out, "https://example.invalid/lib.git\n");

  // remove-repo asks first; in a script it needs --yes.
  auto refuse = t.b.mesh({"remove-repo", "app"});
  EXPECT_EQ(refuse.exit, 1);
  EXPECT_NE(refuse.err.find("--yes"), std::string::npos) << refuse.err;
  EXPECT_EQ(repo_names(t.b).count("app"), 1u);
  const auto before = refs_of(t.b, "app");
  auto removed = t.b.mesh({"--json", "remove-repo", "app", "--yes"});
  ASSERT_EQ(removed.exit, 0) << removed.err;
  EXPECT_EQ(json::parse(removed.out).at("removed").as_string(), "app");
  EXPECT_TRUE(eventually(
      [&] {
        for (Node* n : t.all()) {
          if (repo_names(*n).count("app")) return false;
        }
        return true;
      },
      kReplicate));
  for (Node* n : t.all()) {
    EXPECT_EQ(repos_dir(*n).count("app.git"), 0u) << n->name();
    bool trashed = false;
    for (const auto& e : fs::directory_iterator(n->root() / "repos" / ".trash")) {
      trashed = trashed || e.path().filename().string().starts_with("app.git.");
    }
    EXPECT_TRUE(trashed) << n->name() << " keeps no copy";
  }
  // A removed repo is not served and cannot be pushed to; git shows why.
  auto gone = t.git_to(t.a, {"push", "mesh", "main"}, work);
  EXPECT_NE(gone.exit, 0);
  EXPECT_NE(gone.err.find("app was removed from the mesh"), std::string::npos) << gone.err;
  EXPECT_NE(gone.err.find("mesh restore-repo app"), std::string::npos) << gone.err;
  EXPECT_EQ(repos_dir(t.a).count("app.git"), 0u);

  auto restored = t.c.mesh({"restore-repo", "app"});
  ASSERT_EQ(restored.exit, 0) << restored.err;
  EXPECT_TRUE(eventually([&] { return same_refs_everywhere(t, "app", before); }, kReplicate));
  auto not_removed = t.c.mesh({"restore-repo", "app"});
  EXPECT_EQ(not_removed.exit, 1);
  EXPECT_NE(not_removed.err.find("no removed repo named app"), std::string::npos);
}

TEST(Repos, BadNamesAndUnknownReposCreateNothing) {
  Trio t("repos-names");
  ASSERT_EQ(t.a.start().exit, 0);
  auto work = t.make_repo("app", 1);
  ASSERT_EQ(t.git({"push", "-q", Trio::http(t.a, "app"), "main"}, work).exit, 0);
  const auto entries = repos_dir(t.a);
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  } cases[] = {
      {{"url", "nosuch"}, "no repo named nosuch on this node"},
      {{"url", "bad/name"}, "invalid repo name 'bad/name'"},
      {{"add-repo", "bad/name", work.string()}, "invalid repo name"},
      {{"add-repo", "fresh", (t.dir.path() / "nowhere").string()}, "is not a git repository"},
      {{"remove-repo", "nosuch", "--yes"}, "no repo named nosuch"},
      {{"remove-repo", "-x", "--yes"}, "invalid repo name"},
      {{"restore-repo", "nosuch"}, "no removed repo named nosuch"},
      {{"drop", "nosuch", "0123456789"}, "no repo named nosuch"},
      {{"drop", "app", "0123456789"}, "nothing parked in app matches"},
  };
  for (const auto& c : cases) {
    auto p = mesh_home(t, t.a, c.args);
    EXPECT_EQ(p.exit, 1) << c.args[0] << " " << c.args[1] << ": " << p.err;
    EXPECT_NE(p.err.find(c.needle), std::string::npos) << p.err;
  }
  EXPECT_EQ(repos_dir(t.a), entries);
  EXPECT_EQ(repo_names(t.a), std::set<std::string>{"app"});
  auto url = mesh_home(t, t.a, {"url", "app"});
  EXPECT_EQ(url.exit, 0) << url.err;

  // A repo URL opened in a browser leads to its page; other names are 404, and create nothing.
  auto code = [&](const std::string& path, const std::string& accept) {
    return run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H",
                "Accept: " + accept, t.a.http_url(path)})
        .out;
  };
  EXPECT_EQ(code("/app.git", "text/html,application/xhtml+xml"),
            "302 " + t.a.http_url("/repos/app"));
  EXPECT_EQ(code("/nosuch.git", "text/html").substr(0, 3), "404");
  EXPECT_EQ(code("/app.git", "*/*").substr(0, 3), "404");
  EXPECT_EQ(code("/a..b.git", "text/html").substr(0, 3), "400");
  EXPECT_EQ(repos_dir(t.a), entries);
}

TEST(Repos, FailedFirstPushesLeaveNoMirror) {
  Trio t("repos-fail", {"replication"}, "[plugins.replication]\nmax_push_bytes = 200000\n");
  ASSERT_EQ(t.a.start().exit, 0);
  const auto entries = repos_dir(t.a);
  // Garbage: a 4xx with git's reason, never 500.
  auto garbage = run({"curl", "-s", "-w", "\n%{http_code}", "-H",
                      "Content-Type: application/x-git-receive-pack-request", "--data-binary",
                      "this is not a pack", t.a.http_url("/junk.git/git-receive-pack")});
  EXPECT_EQ(garbage.out.substr(garbage.out.rfind('\n') + 1), "400") << garbage.out;
  EXPECT_NE(garbage.out.find("git could not read the request"), std::string::npos) << garbage.out;

  // A commit that fails fsck (no author email), pushed as the first push of a new name.
  auto bad = t.make_repo("bad", 1);
  auto tree = t.rev(bad, "HEAD^{tree}");
  std::ofstream(bad / "commit.txt")
      << "tree " << tree << "\nauthor nobody\ncommitter nobody\n\nbad\n";
  auto made = t.git({"hash-object", "-t", "commit", "--literally", "-w", "commit.txt"}, bad);
  ASSERT_EQ(made.exit, 0) << made.err;
  std::string bad_commit = made.out.substr(0, 40);
  auto fsck = t.git({"push", Trio::http(t.a, "fsck"), bad_commit + ":refs/heads/main"}, bad);
  EXPECT_NE(fsck.exit, 0) << fsck.err;

  // Over max_push_bytes: git shows the reason, not "unable to rewind rpc post data".
  auto big = t.make_repo("big", 0);
  {
    std::mt19937 rng(7);
    std::string data(600'000, '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    std::ofstream(big / "blob.bin", std::ios::binary) << data;
  }
  ASSERT_EQ(t.git({"add", "blob.bin"}, big).exit, 0);
  ASSERT_EQ(t.git({"commit", "-q", "-m", "big"}, big).exit, 0);
  auto over = t.git({"push", Trio::http(t.a, "big"), "main"}, big);
  EXPECT_NE(over.exit, 0);
  EXPECT_NE(over.err.find("remote: mesh: push refused: it is larger than this node's limit of "
                          "200000 bytes ([plugins.replication] max_push_bytes)"),
            std::string::npos)
      << over.err;
  EXPECT_EQ(over.err.find("unable to rewind"), std::string::npos) << over.err;

  EXPECT_EQ(repos_dir(t.a), entries);
  EXPECT_TRUE(repo_names(t.a).empty());
  // A client cannot make a parked tip (a forged divergence "from" anyone).
  auto ok = t.make_repo("ok", 1);
  ASSERT_EQ(t.git({"push", "-q", Trio::http(t.a, "ok"), "main"}, ok).exit, 0);
  auto forge = t.git(
      {"push", Trio::http(t.a, "ok"), "main:refs/mesh/parked/" + t.rev(ok, "HEAD") + "/heads/main"},
      ok);
  EXPECT_NE(forge.exit, 0);
  EXPECT_NE(forge.err.find("hidden ref"), std::string::npos) << forge.err;
  auto divs = divergences_of(t.a, "ok");
  EXPECT_TRUE(divs.empty());
}

// kill -9 in the middle of a push (the daemon and its git children, as a crash or the OOM
// killer would): the restart removes the quarantine and temporary packs they left.
TEST(Repos, ARestartAfterKill9RemovesWhatTheKilledPushLeft) {
  Trio t("repos-kill");
  ASSERT_EQ(t.a.start().exit, 0);
  auto work = t.make_repo("app", 1);
  ASSERT_EQ(t.git({"push", "-q", Trio::http(t.a, "app"), "main"}, work).exit, 0);
  {
    std::mt19937 rng(11);
    std::string data(24 << 20, '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    std::ofstream(work / "huge.bin", std::ios::binary) << data;
  }
  ASSERT_EQ(t.git({"add", "huge.bin"}, work).exit, 0);
  ASSERT_EQ(t.git({"commit", "-q", "-m", "huge"}, work).exit, 0);
  const fs::path mirror = t.a.root() / "repos" / "app.git";
  auto leftovers = [&] {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(mirror / "objects", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      auto n = it->path().filename().string();
      if (n.starts_with("incoming-") || n.starts_with("tmp_objdir-")) out.push_back(n);
    }
    for (auto it = fs::directory_iterator(mirror / "objects" / "pack", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      auto n = it->path().filename().string();
      if (n.starts_with("tmp_")) out.push_back(n);
    }
    return out;
  };
  // Push slowly (through a proxy at 2 MB/s), so that the kill lands mid-push.
  TcpProxy slow(t.a.port());
  slow.throttle(2 << 20);
  const std::string url = "http://127.0.0.1:" + std::to_string(slow.port()) + "/app.git";
  std::thread pusher([&] { t.git({"push", url, "main"}, work); });
  bool mid_push = eventually([&] { return !leftovers().empty(); }, 60s);
  // Kill the daemon and every git working in its mirrors, at once.
  const std::string root = t.a.root().string();
  std::vector<int> gits;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline", std::ios::binary);
    std::string line((std::istreambuf_iterator<char>(cmd)), {});
    auto cwd = fs::read_symlink(e.path() / "cwd", ec).string();
    bool git = line.starts_with("git") || line.find("/git") != std::string::npos;
    if (git && (line.find(root) != std::string::npos || cwd.starts_with(root))) {
      gits.push_back(std::stoi(pid));
    }
  }
  t.a.kill9();
  for (int pid : gits) ::kill(pid, SIGKILL);
  slow.cut();
  pusher.join();
  ASSERT_TRUE(mid_push) << "the push finished before it could be interrupted";
  EXPECT_FALSE(leftovers().empty());
  ASSERT_EQ(t.a.restart().exit, 0);
  EXPECT_TRUE(eventually([&] { return leftovers().empty(); }, 30s));
  EXPECT_FALSE(log_lines_with(t.a, "removed what an interrupted git or fetch left").empty());
  // The mirror still works.
  auto p = t.git({"push", "-q", Trio::http(t.a, "app"), "main"}, work);
  EXPECT_EQ(p.exit, 0) << p.err;
}
