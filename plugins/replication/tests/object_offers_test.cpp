// Object offers (object_offers.hpp, member_post.hpp): the want event's bounds, a thin pack
// written by the real `git pack-objects` and taken by the real `git index-pack --strict`, a
// damaged pack refused with nothing kept, and the POST client against scripted answers.
#include "object_offers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "git_process.hpp"
#include "member_post.hpp"

using namespace mesh::repl;
namespace fs = std::filesystem;

namespace {

std::string sh(const std::string& cmd, int* rc_out = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = ::pclose(p);
  if (rc_out) {
    *rc_out = rc;
  } else {
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

const std::string kOid(40, 'a');

TEST(Want, RoundTripsAndRefusesWhatIsOutOfBounds) {
  Want w{"app", {kOid}, {std::string(40, 'b')}, {"mesh:abc"}};
  std::string why;
  auto back = parse_want(want_payload(w), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->repo, "app");
  EXPECT_EQ(back->oids, w.oids);
  EXPECT_EQ(back->have, w.have);
  EXPECT_EQ(back->to, w.to);

  auto refused = [](const std::string& payload, const std::string& needle) {
    std::string why;
    EXPECT_FALSE(parse_want(payload, &why)) << payload;
    EXPECT_NE(why.find(needle), std::string::npos) << why;
  };
  refused("[]", "object");
  refused(R"({"repo":"../x","oids":[")" + kOid + R"("]})", "repo");
  refused(R"({"repo":"app","oids":[]})", "oids");
  refused(R"({"repo":"app","oids":["xyz"]})", "object id");
  refused(R"({"repo":"app","oids":[")" + kOid + R"("],"to":["bob"]})", "member id");
  Want many{"app", std::vector<std::string>(kMaxWantOids + 1, kOid), {}, {}};
  refused(want_payload(many), "at most");
  refused(std::string(70 * 1024, ' '), "64 KiB");
}

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("mesh-offers-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    const char* path = std::getenv("PATH");
    env_.path_env = path ? path : "/usr/bin:/bin";
    env_.git_path = find_executable("git", env_.path_env);
    env_.home = base_.string();
    ASSERT_FALSE(env_.git_path.empty());
    work_ = base_ / "work";
    sh("git init -q -b main " + work_.string());
    git("config user.email t@example.com");
    git("config user.name t");
    first_ = commit("one");
    // The receiver has the first commit only.
    sh("git clone -q --bare " + work_.string() + " " + (base_ / "dest.git").string());
    second_ = commit("two");
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string git(const std::string& args) { return sh("git -C " + work_.string() + " " + args); }
  std::string commit(const std::string& msg) {
    std::ofstream(work_ / (msg + ".txt")) << msg << " " << std::string(2000, 'x') << "\n";
    git("add " + msg + ".txt");
    git("commit -q -m " + msg);
    return git("rev-parse HEAD");
  }
  bool dest_has(const std::string& oid) {
    int rc = 0;
    sh("git --git-dir=" + (base_ / "dest.git").string() + " cat-file -e " + oid, &rc);
    return rc == 0;
  }
  std::string take(const fs::path& pack, std::uint64_t length) {
    std::ifstream in(pack, std::ios::binary);
    auto read = [&](char* buf, std::size_t cap) -> long {
      in.read(buf, static_cast<std::streamsize>(cap));
      return static_cast<long>(in.gcount());
    };
    return index_pack(env_, base_ / "dest.git", read, length);
  }

  fs::path base_, work_;
  GitEnv env_;
  std::string first_, second_;
};

TEST_F(PackTest, AThinPackOfWhatTheReceiverLacksIsVerifiedAndStored) {
  const fs::path pack = base_ / "offer.pack";
  std::uint64_t size = 0;
  ASSERT_EQ(write_pack(env_, work_ / ".git", {second_}, {first_}, pack, 1 << 20, &size), "");
  EXPECT_EQ(size, fs::file_size(pack));
  EXPECT_FALSE(dest_has(second_));
  ASSERT_EQ(take(pack, size), "");
  EXPECT_TRUE(dest_has(second_));
  // Every object of the new commit, and its links, resolve in the receiver.
  sh("git --git-dir=" + (base_ / "dest.git").string() + " fsck --no-dangling --connectivity-only");
}

TEST_F(PackTest, ADamagedOrShortPackIsRefusedAndNothingIsKept) {
  const fs::path pack = base_ / "offer.pack";
  std::uint64_t size = 0;
  ASSERT_EQ(write_pack(env_, work_ / ".git", {second_}, {first_}, pack, 1 << 20, &size), "");
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.seekg(static_cast<std::streamoff>(size / 2));
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(static_cast<char>(c ^ 0x5a));
  }
  EXPECT_NE(take(pack, size), "");
  EXPECT_FALSE(dest_has(second_));
  // Announced longer than it is: refused as short.
  ASSERT_EQ(write_pack(env_, work_ / ".git", {second_}, {first_}, pack, 1 << 20, &size), "");
  EXPECT_NE(take(pack, size + 10).find("ended after"), std::string::npos);
  EXPECT_FALSE(dest_has(second_));
}

TEST_F(PackTest, APackOverTheLimitIsNotWritten) {
  const fs::path pack = base_ / "offer.pack";
  std::uint64_t size = 0;
  EXPECT_NE(write_pack(env_, work_ / ".git", {second_}, {}, pack, 16, &size).find("larger"),
            std::string::npos);
}

// A connection that records what was written and answers with a scripted response.
class ScriptedConn final : public ByteConn {
 public:
  explicit ScriptedConn(std::string answer) : answer_(std::move(answer)) {}
  long read(char* buf, std::size_t cap) override {
    std::size_t n = std::min(cap, answer_.size() - at_);
    std::copy_n(answer_.data() + at_, n, buf);
    at_ += n;
    return static_cast<long>(n);
  }
  bool write(std::string_view data) override {
    sent.append(data);
    return true;
  }
  std::string sent;

 private:
  std::string answer_;
  std::size_t at_ = 0;
};

TEST(MemberPost, SendsTheFileWithItsLengthAndReadsTheStatus) {
  const fs::path file = fs::temp_directory_path() / ("mesh-post-" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << "PACKDATA";
  ScriptedConn ok("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nstored\n");
  EXPECT_EQ(post_file(ok, "/replication/v1/objects/app", file, 8), "");
  EXPECT_TRUE(ok.sent.starts_with("POST /replication/v1/objects/app HTTP/1.1\r\n")) << ok.sent;
  EXPECT_NE(ok.sent.find("Content-Length: 8\r\n"), std::string::npos);
  EXPECT_TRUE(ok.sent.ends_with("\r\n\r\nPACKDATA"));

  ScriptedConn refused(
      "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n2a\r\nbob is over its "
      "hourly byte budget\n\r\n0\r\n\r\n");
  EXPECT_EQ(post_file(refused, "/x", file, 8), "answered 429: bob is over its hourly byte budget");
  ScriptedConn silent("");
  EXPECT_EQ(post_file(silent, "/x", file, 8), "no answer");
  EXPECT_EQ(post_file(silent, "/x", file.string() + ".missing", 8).rfind("cannot read", 0), 0u);
  fs::remove(file);
}

}  // namespace
