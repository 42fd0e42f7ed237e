// GitService against the real git: real child processes, request bodies made by real git
// (pack-objects) or by a real git client through a small HTTP/1.1 server in the test.
#include "git_service.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "git_process.hpp"
#include "pkt_line.hpp"

using namespace mesh::repl;
namespace fs = std::filesystem;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string kZero(40, '0');

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mesh-gitsvc-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs a shell command for test setup (this is test code: the service never uses a shell).
// A hung git fails the test after a generous bound instead of hanging the suite.
struct ShResult {
  int rc;
  std::string out;
};
ShResult sh(const std::string& cmd, const std::string& stdin_data = {}) {
  std::string full = "timeout 120 sh -c " + quote(cmd);
  std::string in_file;
  if (!stdin_data.empty()) {
    char tmpl[] = "/tmp/mesh-gitsvc-in-XXXXXX";
    int fd = ::mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, stdin_data.data(), stdin_data.size()),
              static_cast<ssize_t>(stdin_data.size()));
    ::close(fd);
    in_file = tmpl;
    full += " < " + in_file;
  } else {
    full += " < /dev/null";
  }
  FILE* p = ::popen(full.c_str(), "r");
  ShResult r{-1, {}};
  if (p) {
    char buf[65536];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    r.rc = ::pclose(p);
  }
  if (!in_file.empty()) ::unlink(in_file.c_str());
  return r;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Environment for the git commands the tests run themselves.
std::string git_env(const TempDir& home) {
  return "env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u "
         "ALL_PROXY NO_PROXY='*' HOME=" +
         quote(home.str()) +
         " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME=t "
         "GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com ";
}

std::string pkt(const std::string& s) {
  return *pkt_line(s);
}

// Splits a pkt-line stream; a flush packet appears as "0000", delim as "0001".
std::vector<std::string> pkts(std::string_view d, std::size_t* rest = nullptr) {
  std::vector<std::string> out;
  while (d.size() >= 4) {
    auto len = pkt_length(d.substr(0, 4));
    if (!len) break;
    if (*len < 4) {
      out.push_back(std::string(d.substr(0, 4)));
      d.remove_prefix(4);
      continue;
    }
    if (*len > d.size()) break;
    out.push_back(std::string(d.substr(4, *len - 4)));
    d.remove_prefix(*len);
  }
  if (rest) *rest = d.size();
  return out;
}

// The data of one sideband channel, from the packets that carry one.
std::string channel(const std::vector<std::string>& packets, char band) {
  std::string out;
  for (const auto& p : packets) {
    if (!p.empty() && p != "0000" && p[0] == band) out += p.substr(1);
  }
  return out;
}

std::string gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// No child of this process is left, running or zombie.
bool no_children() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

// Records one exchange; the body is served in pieces of `piece` bytes.
class FakeIo : public HttpIo {
 public:
  explicit FakeIo(std::string body = {}, std::size_t piece = 1 << 16)
      : body_(std::move(body)), piece_(piece) {}

  std::optional<std::size_t> fail_read_after;  // read() fails once this many bytes went out
  bool fail_write = false;
  std::function<void()> on_first_read;  // runs on the pump thread before the first read

  int read(char* buf, std::size_t cap, std::size_t* got) override {
    if (reads_++ == 0 && on_first_read) on_first_read();
    std::lock_guard lock(mu_);
    if (fail_read_after && pos_ >= *fail_read_after) return -1;
    std::size_t n = std::min({cap, piece_, body_.size() - pos_});
    if (fail_read_after) n = std::min(n, *fail_read_after - pos_);
    std::memcpy(buf, body_.data() + pos_, n);
    pos_ += n;
    *got = n;
    return 0;
  }
  int begin(unsigned status, const Headers& headers) override {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(begun || responded || ended);
    begun = true;
    this->status = status;
    this->headers = headers;
    return 0;
  }
  int write(std::string_view data) override {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(begun);
    EXPECT_FALSE(ended);
    if (fail_write) return -1;
    out.append(data);
    chunks.emplace_back(data);
    return 0;
  }
  int end(bool ok) override {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(ended || responded);
    ended = true;
    this->ok = ok;
    return 0;
  }
  int respond(unsigned status, std::string_view content_type, std::string_view body) override {
    std::lock_guard lock(mu_);
    EXPECT_FALSE(begun || responded || ended);
    responded = true;
    this->status = status;
    this->content_type = content_type;
    out = body;
    return 0;
  }

  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    if (name == "Content-Type") return content_type;
    return {};
  }
  // A finished, successful exchange.
  bool complete() const { return responded || (begun && ended && ok); }

  unsigned status = 0;
  Headers headers;
  std::string content_type;
  std::string out;
  std::vector<std::string> chunks;
  bool begun = false, ended = false, ok = false, responded = false;

 private:
  std::mutex mu_;
  std::string body_;
  std::size_t piece_;
  std::size_t pos_ = 0;
  std::atomic<int> reads_{0};
};

GitRequest info_refs(const std::string& repo, const std::string& service,
                     const std::string& protocol = {}) {
  GitRequest r;
  r.path = {repo, GitPath::info_refs};
  r.method = "GET";
  r.query = "service=" + service;
  if (!protocol.empty()) r.headers.push_back({"Git-Protocol", protocol});
  return r;
}

GitRequest post(const std::string& repo, GitPath what, const std::string& encoding = {},
                const std::string& protocol = {}) {
  GitRequest r;
  r.path = {repo, what};
  r.method = "POST";
  r.headers.push_back({"content-type", what == GitPath::upload_pack
                                           ? "application/x-git-upload-pack-request"
                                           : "application/x-git-receive-pack-request"});
  if (!encoding.empty()) r.headers.push_back({"Content-Encoding", encoding});
  if (!protocol.empty()) r.headers.push_back({"Git-Protocol", protocol});
  return r;
}

class GitServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sh("git --version").rc, 0) << "these tests need git";
    src_ = (tmp_.path / "src").string();
    repos_ = tmp_.path / "repos";
    fs::create_directories(repos_);
    ASSERT_EQ(sh(env() + "git init -q -b main " + quote(src_)).rc, 0);
  }
  void TearDown() override { EXPECT_TRUE(no_children()); }

  std::string env() const { return git_env(tmp_); }

  GitServiceOptions options() const {
    GitServiceOptions o;
    o.repos_dir = repos_;
    return o;
  }

  // A new commit on src's main; returns its oid.
  std::string commit(const std::string& file, const std::string& content) {
    std::ofstream(fs::path(src_) / file) << content;
    EXPECT_EQ(sh(env() + "git -C " + quote(src_) + " add -A && " + env() + "git -C " + quote(src_) +
                 " commit -q -m " + quote(file))
                  .rc,
              0);
    return trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD").out);
  }

  // A pack with what `want` has and `have` has not, made by git pack-objects.
  std::string pack(const std::string& want, const std::string& have) {
    std::string revs = want + "\n" + (have == kZero ? "" : "^" + have + "\n");
    ShResult r = sh("git -C " + quote(src_) + " pack-objects --stdout --revs -q", revs);
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out.substr(0, 4), "PACK");
    return r.out;
  }

  // The body `git push` would send (v0 receive-pack request).
  std::string push_body(const std::string& old_oid, const std::string& new_oid,
                        const std::string& caps = "report-status side-band-64k agent=mesh-test",
                        const std::string& ref = "refs/heads/main") {
    return pkt(old_oid + " " + new_oid + " " + ref + std::string(1, '\0') + caps + "\n") +
           std::string(kFlushPkt) + pack(new_oid, old_oid);
  }

  std::map<std::string, std::string> mirror_refs(const std::string& repo) {
    std::map<std::string, std::string> refs;
    ShResult r = sh("git --git-dir=" + quote((repos_ / (repo + ".git")).string()) +
                    " for-each-ref --format='%(refname) %(objectname)'");
    std::istringstream in(r.out);
    std::string name, oid;
    while (in >> name >> oid) refs[name] = oid;
    return refs;
  }

  // Pushes `new_oid` over `old_oid` to main; expects success.
  ServeResult push(GitService& svc, const std::string& repo, const std::string& old_oid,
                   const std::string& new_oid, FakeIo* io_out = nullptr) {
    FakeIo io(push_body(old_oid, new_oid));
    ServeResult r = svc.serve(post(repo, GitPath::receive_pack), io);
    EXPECT_EQ(r.status, 200u) << r.log << io.out;
    EXPECT_TRUE(io.complete());
    std::string report = channel(pkts(io.out), '\1');
    EXPECT_NE(report.find("unpack ok"), std::string::npos) << report;
    EXPECT_NE(report.find("ok refs/heads/main"), std::string::npos) << report;
    EXPECT_FALSE(r.refused) << r.log;
    if (io_out) {
      io_out->out = io.out;
      io_out->chunks = io.chunks;
    }
    return r;
  }

  TempDir tmp_;
  std::string src_;
  fs::path repos_;
};

TEST(GitPktLine, EncodeAndParse) {
  EXPECT_EQ(*pkt_line("a\n"), "0006a\n");
  EXPECT_EQ(*pkt_line("# service=git-upload-pack\n"), "001e# service=git-upload-pack\n");
  EXPECT_EQ(pkt_line(std::string(kPktMaxData, 'x'))->substr(0, 4), "fff0");
  EXPECT_FALSE(pkt_line(std::string(kPktMaxData + 1, 'x')));
  EXPECT_EQ(pkt_length("00ff"), 255u);
  EXPECT_EQ(pkt_length("FFF0"), 65520u);
  EXPECT_FALSE(pkt_length("00g0"));
  EXPECT_FALSE(pkt_length("000"));
}

TEST(GitProtocolHeader, Validation) {
  for (const char* ok : {"", "version=2", "version=1", "version=2:object-format=sha1", "a.b_c-d"}) {
    EXPECT_TRUE(valid_git_protocol(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string("version=2;x"), std::string("version 2"), std::string("version=2\n"),
        std::string("version=2::x"), std::string(":version=2"), std::string("version=2:"),
        std::string("v=\x01"), std::string(257, 'a'), std::string("version=2,x")}) {
    EXPECT_FALSE(valid_git_protocol(bad)) << bad;
  }
  EXPECT_TRUE(valid_git_protocol(std::string(256, 'a')));
}

TEST(GitProcess, FindsExecutables) {
  EXPECT_FALSE(find_executable("git", "/usr/bin:/bin").empty());
  EXPECT_EQ(find_executable("no-such-program-mesh", "/usr/bin:/bin"), "");
  EXPECT_EQ(find_executable("git", "relative/dir:"), "");  // never resolved against the cwd
}

TEST_F(GitServiceTest, InfoRefsV0HasServiceHeader) {
  std::string oid = commit("a", "1");
  GitService svc(options());
  FakeIo first(push_body(kZero, oid));
  ASSERT_EQ(svc.serve(post("app", GitPath::receive_pack), first).status, 200u);

  FakeIo io;
  ServeResult r = svc.serve(info_refs("app", "git-upload-pack"), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  ASSERT_TRUE(io.begun && io.ended && io.ok);
  EXPECT_EQ(io.header("Content-Type"), "application/x-git-upload-pack-advertisement");
  EXPECT_NE(io.header("Cache-Control").find("no-cache"), std::string::npos);
  EXPECT_EQ(io.out.substr(0, 34), "001e# service=git-upload-pack\n0000");
  EXPECT_NE(io.out.find(oid + " HEAD"), std::string::npos) << io.out;
  EXPECT_NE(io.out.find(oid + " refs/heads/main"), std::string::npos);

  FakeIo rp;
  r = svc.serve(info_refs("app", "git-receive-pack"), rp);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(rp.header("Content-Type"), "application/x-git-receive-pack-advertisement");
  EXPECT_EQ(rp.out.substr(0, 35), "001f# service=git-receive-pack\n0000");
  EXPECT_NE(rp.out.find("report-status"), std::string::npos);
  EXPECT_TRUE(r.updates.empty());
}

TEST_F(GitServiceTest, InfoRefsV2AndLsRefs) {
  std::string oid = commit("a", "1");
  GitService svc(options());
  FakeIo first(push_body(kZero, oid));
  ASSERT_EQ(svc.serve(post("app", GitPath::receive_pack), first).status, 200u);

  FakeIo io;
  ServeResult r = svc.serve(info_refs("app", "git-upload-pack", "version=2"), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  // GIT_PROTOCOL reached git: it answers with a v2 capability advertisement, no service line.
  EXPECT_EQ(io.out.substr(0, 14), "000eversion 2\n") << io.out;
  EXPECT_EQ(io.out.find("# service="), std::string::npos);
  EXPECT_NE(io.out.find("ls-refs"), std::string::npos);

  FakeIo ls(pkt("command=ls-refs\n") + "0001" + pkt("peel\n") + pkt("symrefs\n") + "0000");
  r = svc.serve(post("app", GitPath::upload_pack, "", "version=2"), ls);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_EQ(ls.header("Content-Type"), "application/x-git-upload-pack-result");
  EXPECT_NE(ls.out.find(oid + " refs/heads/main"), std::string::npos) << ls.out;
}

TEST_F(GitServiceTest, RejectsBadRequests) {
  commit("a", "1");
  GitService svc(options());
  auto expect = [&](GitRequest req, unsigned status, const std::string& body_has = {}) {
    FakeIo io;
    ServeResult r = svc.serve(req, io);
    EXPECT_EQ(r.status, status) << r.log;
    EXPECT_EQ(io.status, status);
    EXPECT_TRUE(io.complete());
    EXPECT_FALSE(r.log.empty());
    if (!body_has.empty()) {
      EXPECT_NE(io.out.find(body_has), std::string::npos) << io.out;
    }
  };
  GitRequest dumb = info_refs("app", "git-upload-pack");
  dumb.query = "";
  expect(dumb, 400, "dumb HTTP");
  dumb.query = "foo=bar";
  expect(dumb, 400, "dumb HTTP");
  expect(info_refs("app", "git-upload-archive"), 400);
  GitRequest twice = info_refs("app", "git-upload-pack");
  twice.query += "&service=git-receive-pack";
  expect(twice, 400);
  GitRequest wrong_method = info_refs("app", "git-upload-pack");
  wrong_method.method = "POST";
  expect(wrong_method, 405);
  GitRequest get_service = post("app", GitPath::upload_pack);
  get_service.method = "GET";
  expect(get_service, 405);
  GitRequest no_type = post("app", GitPath::upload_pack);
  no_type.headers.clear();
  expect(no_type, 415);
  GitRequest wrong_type = post("app", GitPath::upload_pack);
  wrong_type.headers[0].second = "application/x-git-receive-pack-request";
  expect(wrong_type, 415);
  expect(post("app", GitPath::upload_pack, "br"), 415);
  expect(post("app", GitPath::upload_pack, "gzip, gzip"), 415);
  for (const std::string& proto :
       {std::string("version=2;rm -rf"), std::string(300, 'v'), std::string("version=2\nX: y")}) {
    expect(info_refs("app", "git-upload-pack", proto), 400, "Git-Protocol");
  }
  GitRequest two_protocols = info_refs("app", "git-upload-pack", "version=2");
  two_protocols.headers.push_back({"git-protocol", "version=1"});
  expect(two_protocols, 400);
  EXPECT_TRUE(fs::is_empty(repos_));  // nothing created on the way
}

TEST_F(GitServiceTest, UnknownRepoIs404ForUploadPack) {
  GitService svc(options());
  FakeIo a;
  EXPECT_EQ(svc.serve(info_refs("nope", "git-upload-pack"), a).status, 404u);
  EXPECT_TRUE(a.responded);
  FakeIo b(pkt("want " + kZero + "\n") + "0000" + pkt("done\n"));
  EXPECT_EQ(svc.serve(post("nope", GitPath::upload_pack), b).status, 404u);
  EXPECT_FALSE(fs::exists(repos_ / "nope.git"));
}

TEST_F(GitServiceTest, FirstPushCreatesMirrorThenSecondPushMovesRef) {
  std::string c1 = commit("a", "1");
  GitService svc(options());

  // `git push` starts with info/refs?service=git-receive-pack: an empty advertisement, and no
  // mirror yet (any probe would otherwise leave an empty repo behind).
  FakeIo adv;
  ServeResult r = svc.serve(info_refs("app", "git-receive-pack"), adv);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_FALSE(r.created);
  EXPECT_FALSE(fs::exists(repos_ / "app.git"));
  EXPECT_NE(adv.out.find(kZero + " capabilities^{}"), std::string::npos) << adv.out;

  // The pack creates it.
  r = push(svc, "app", kZero, c1);
  EXPECT_TRUE(r.created);
  EXPECT_TRUE(fs::is_directory(repos_ / "app.git"));
  std::string cfg = sh("git config --file " + quote((repos_ / "app.git" / "config").string()) +
                       " --get receive.fsckObjects")
                        .out;
  EXPECT_EQ(trimmed(cfg), "true");
  // The same settings as a mirror made by a refs event (mirror_init.cpp): reflogs for all refs.
  cfg = sh("git config --file " + quote((repos_ / "app.git" / "config").string()) +
           " --get core.logAllRefUpdates")
            .out;
  EXPECT_EQ(trimmed(cfg), "always");
  ASSERT_EQ(r.updates.size(), 1u);
  EXPECT_EQ(r.updates[0], (RefUpdate{"refs/heads/main", kZero, c1}));
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);

  std::string c2 = commit("b", "2");
  r = push(svc, "app", c1, c2);
  ASSERT_EQ(r.updates.size(), 1u);
  EXPECT_EQ(r.updates[0], (RefUpdate{"refs/heads/main", c1, c2}));
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c2);

  // A new branch, then its deletion (zero oid as new). Deleting the branch HEAD names stays
  // refused, as git does by default (receive.denyDeleteCurrent).
  FakeIo topic(push_body(kZero, c2, "report-status", "refs/heads/topic"));
  r = svc.serve(post("app", GitPath::receive_pack), topic);
  ASSERT_EQ(r.updates.size(), 1u) << r.log;
  EXPECT_EQ(r.updates[0], (RefUpdate{"refs/heads/topic", kZero, c2}));
  for (const char* ref : {"refs/heads/topic", "refs/heads/main"}) {
    FakeIo del(
        pkt(c2 + " " + kZero + " " + ref + std::string(1, '\0') + "report-status delete-refs\n") +
        "0000");
    r = svc.serve(post("app", GitPath::receive_pack), del);
    EXPECT_EQ(r.status, 200u) << r.log;
    if (std::string(ref) == "refs/heads/topic") {
      ASSERT_EQ(r.updates.size(), 1u) << del.out;
      EXPECT_EQ(r.updates[0], (RefUpdate{ref, c2, kZero}));
    } else {
      EXPECT_TRUE(r.updates.empty());
      EXPECT_NE(del.out.find("ng refs/heads/main"), std::string::npos) << del.out;
    }
  }
  EXPECT_EQ(mirror_refs("app"), (std::map<std::string, std::string>{{"refs/heads/main", c2}}));
}

TEST_F(GitServiceTest, FirstPushWithoutInfoRefsCreatesAndPointsHead) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  FakeIo io(push_body(kZero, c1, "report-status", "refs/heads/trunk"));
  ServeResult r = svc.serve(post("fresh", GitPath::receive_pack), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_TRUE(r.created);
  ASSERT_EQ(r.updates.size(), 1u);
  EXPECT_EQ(r.updates[0], (RefUpdate{"refs/heads/trunk", kZero, c1}));
  // No sideband: the report is plain pkt-lines.
  EXPECT_NE(io.out.find("ok refs/heads/trunk"), std::string::npos) << io.out;
  // HEAD followed the only branch, so a clone checks it out.
  EXPECT_EQ(
      trimmed(
          sh("git --git-dir=" + quote((repos_ / "fresh.git").string()) + " symbolic-ref HEAD").out),
      "refs/heads/trunk");
}

TEST_F(GitServiceTest, GzipRequestBodies) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  for (const char* enc : {"gzip", "x-gzip"}) {
    std::string repo = std::string("gz-") + enc;
    FakeIo io(gzip(push_body(kZero, c1)), 100);  // small pieces through inflate
    ServeResult r = svc.serve(post(repo, GitPath::receive_pack, enc), io);
    EXPECT_EQ(r.status, 200u) << r.log;
    ASSERT_EQ(r.updates.size(), 1u) << enc;
    EXPECT_EQ(mirror_refs(repo)["refs/heads/main"], c1);
  }
  // Fetch with a gzip body too.
  FakeIo fetch(
      gzip(pkt("want " + c1 + " side-band-64k ofs-delta no-progress\n") + "0000" + pkt("done\n")));
  ServeResult r = svc.serve(post("gz-gzip", GitPath::upload_pack, "gzip"), fetch);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_EQ(channel(pkts(fetch.out), '\1').substr(0, 4), "PACK");

  // Corrupt gzip: 400, nothing applied.
  std::string c2 = commit("b", "2");
  std::string bad = gzip(push_body(c1, c2));
  bad[bad.size() / 2] ^= 0x55;
  bad.resize(bad.size() - 3);
  FakeIo corrupt(bad);
  r = svc.serve(post("gz-gzip", GitPath::receive_pack, "gzip"), corrupt);
  EXPECT_TRUE(r.status == 400u || !corrupt.ok) << r.log;
  EXPECT_TRUE(r.updates.empty());
  EXPECT_EQ(mirror_refs("gz-gzip")["refs/heads/main"], c1);
}

TEST_F(GitServiceTest, GzipBombOverCapIsRefused) {
  std::string c1 = commit("a", "1");
  auto opt = options();
  opt.max_request_bytes = 1 << 20;
  GitService svc(opt);
  push(svc, "app", kZero, c1);
  std::string c2 = commit("b", "2");

  // Valid commands, so git keeps reading until we cut it off: ~9 MiB that gzip to ~20 KiB.
  std::string body = pkt(c1 + " " + c2 + " refs/heads/main" + std::string(1, '\0') +
                         "report-status side-band-64k\n");
  std::string line = pkt(kZero + " " + c2 + " refs/heads/bomb\n");
  while (body.size() < (9u << 20)) body += line;
  body += "0000" + pack(c2, c1);
  std::string bomb = gzip(body);
  ASSERT_LT(bomb.size(), 100u << 10);

  // The rest of the (small) body is read and dropped, and the client gets receive-pack's own
  // kind of answer: every ref rejected with the reason, and a "remote:" line saying what to do.
  FakeIo io(bomb);
  ServeResult r = svc.serve(post("app", GitPath::receive_pack, "gzip"), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_TRUE(io.complete());
  EXPECT_TRUE(r.refused);
  EXPECT_TRUE(r.updates.empty());
  auto band1 = channel(pkts(io.out), '\x01');
  EXPECT_NE(band1.find("unpack push over this node's max_push_bytes (1048576 bytes)"),
            std::string::npos)
      << band1;
  EXPECT_NE(band1.find("ng refs/heads/main push over this node's max_push_bytes"),
            std::string::npos)
      << band1;
  auto band2 = channel(pkts(io.out), '\x02');
  EXPECT_NE(band2.find("mesh: push refused: it is larger than this node's limit of 1048576 "
                       "bytes ([plugins.replication] max_push_bytes)"),
            std::string::npos)
      << band2;
  auto refs = mirror_refs("app");
  EXPECT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs["refs/heads/main"], c1);

  // The same for a plain body (read to its end, up to as much again or 1 GiB).
  FakeIo plain(body);
  r = svc.serve(post("app", GitPath::receive_pack), plain);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_NE(channel(pkts(plain.out), '\x01').find("ng refs/heads/main push over"),
            std::string::npos);
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);
  // A client that stops sending before its body ended gets the plain 413.
  FakeIo gone(body);
  gone.fail_read_after = 3u << 20;
  r = svc.serve(post("app", GitPath::receive_pack), gone);
  EXPECT_EQ(r.status, 413u) << r.log;
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);
}

TEST_F(GitServiceTest, TruncatedPushLeavesRefsAndNoZombie) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  push(svc, "app", kZero, c1);
  for (int i = 0; i < 20; ++i) commit("f" + std::to_string(i), std::string(1000 + i, 'x'));
  std::string c2 = trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD").out);
  std::string body = push_body(c1, c2);

  // The client vanishes mid-pack: read fails.
  FakeIo gone(body, 512);
  gone.fail_read_after = body.size() / 2;
  ServeResult r = svc.serve(post("app", GitPath::receive_pack), gone);
  EXPECT_FALSE(gone.complete());
  EXPECT_TRUE(gone.ended);
  EXPECT_FALSE(gone.ok);
  EXPECT_EQ(r.status, 0u) << r.log;
  EXPECT_NE(r.log.find("client went away"), std::string::npos) << r.log;
  EXPECT_TRUE(r.updates.empty());
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);
  EXPECT_TRUE(no_children());

  // The body just ends early: git reports the failure itself.
  FakeIo cut(body.substr(0, body.size() - 100));
  r = svc.serve(post("app", GitPath::receive_pack), cut);
  EXPECT_TRUE(r.updates.empty());
  EXPECT_EQ(channel(pkts(cut.out), '\1').find("unpack ok"), std::string::npos);
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);
  EXPECT_TRUE(no_children());

  // And the mirror still takes the full push afterwards.
  r = push(svc, "app", c1, c2);
  ASSERT_EQ(r.updates.size(), 1u);
}

// A first push to a new name that git refuses (fsck failure, a truncated pack, no pack at all,
// garbage) leaves no mirror: it ran in one built aside.
TEST_F(GitServiceTest, RefusedFirstPushesLeaveNoMirror) {
  std::string c1 = commit("a", "1");
  for (int i = 0; i < 10; ++i) commit("f" + std::to_string(i), std::string(1000 + i, 'y'));
  std::string c2 = trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD").out);
  std::string tree = trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD^{tree}").out);
  std::string bad =
      trimmed(sh("git -C " + quote(src_) + " hash-object -t commit -w --literally --stdin",
                 "tree " + tree + "\nauthor nobody\ncommitter nobody\n\nbad\n")
                  .out);
  GitService svc(options());
  std::string full = push_body(kZero, c2);
  struct Case {
    const char* what;
    std::string body;
  } cases[] = {
      {"fsck", push_body(kZero, bad)},
      {"truncated", full.substr(0, full.size() - 200)},
      {"no pack", full.substr(0, full.find("PACK"))},
      {"garbage", "this is no request"},
  };
  for (const auto& c : cases) {
    FakeIo io(c.body);
    ServeResult r = svc.serve(post("fresh", GitPath::receive_pack), io);
    EXPECT_TRUE(r.updates.empty()) << c.what;
    EXPECT_FALSE(r.created) << c.what;
    EXPECT_LT(r.status, 500u) << c.what << ": " << r.log;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(repos_)) names.push_back(e.path().filename());
    EXPECT_TRUE(names.empty() || names == std::vector<std::string>{".mesh-empty.git"})
        << c.what << ": " << names.front();
  }
  // The same name then takes a good push.
  ServeResult ok = push(svc, "fresh", kZero, c1);
  EXPECT_TRUE(ok.created);
  EXPECT_EQ(mirror_refs("fresh")["refs/heads/main"], c1);
}

TEST_F(GitServiceTest, FsckRejectsMalformedObjects) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  push(svc, "app", kZero, c1);
  std::string tree = trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD^{tree}").out);
  std::string bad =
      trimmed(sh("git -C " + quote(src_) + " hash-object -t commit -w --literally --stdin",
                 "tree " + tree + "\nparent " + c1 + "\nauthor nobody\ncommitter nobody\n\nbad\n")
                  .out);
  ASSERT_EQ(bad.size(), 40u);
  FakeIo io(push_body(c1, bad));
  ServeResult r = svc.serve(post("app", GitPath::receive_pack), io);
  EXPECT_TRUE(r.updates.empty());
  EXPECT_EQ(channel(pkts(io.out), '\1').find("unpack ok"), std::string::npos) << io.out;
  EXPECT_EQ(mirror_refs("app")["refs/heads/main"], c1);
  // git exits 0 after refusing; the log line must say so, not "ok".
  EXPECT_TRUE(r.refused);
  EXPECT_TRUE(r.log.find("refused") != std::string::npos && r.log.find(": ok") == std::string::npos)
      << r.log;
}

TEST_F(GitServiceTest, ProcessCapGives503) {
  std::string c1 = commit("a", "1");
  auto opt = options();
  opt.max_processes = 1;
  opt.max_waiting = 0;  // no queue: the cap answers at once
  opt.retry_after_seconds = 7;
  GitService svc(opt);
  push(svc, "app", kZero, c1);
  EXPECT_EQ(svc.active(), 0u);

  // The first fetch holds the only slot while its body is "in flight".
  std::promise<void> started, release;
  auto release_future = release.get_future().share();
  FakeIo slow(pkt("want " + c1 + " side-band-64k no-progress\n") + "0000" + pkt("done\n"));
  slow.on_first_read = [&] {
    started.set_value();
    release_future.wait();
  };
  ServeResult slow_result;
  std::thread t([&] { slow_result = svc.serve(post("app", GitPath::upload_pack), slow); });
  started.get_future().wait();
  EXPECT_EQ(svc.active(), 1u);

  FakeIo busy;
  ServeResult r = svc.serve(info_refs("app", "git-upload-pack"), busy);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(busy.header("Retry-After"), "7");
  EXPECT_TRUE(busy.complete());
  FakeIo busy_push(push_body(c1, c1));
  EXPECT_EQ(svc.serve(post("app", GitPath::receive_pack), busy_push).status, 503u);

  release.set_value();
  t.join();
  EXPECT_EQ(slow_result.status, 200u) << slow_result.log;
  EXPECT_EQ(channel(pkts(slow.out), '\1').substr(0, 4), "PACK");
  EXPECT_EQ(svc.active(), 0u);
  FakeIo again;
  EXPECT_EQ(svc.serve(info_refs("app", "git-upload-pack"), again).status, 200u);
}

TEST_F(GitServiceTest, AfterReceiveMessageBeforeFinalFlush) {
  std::string c1 = commit("a", "1");
  std::vector<RefUpdate> seen;
  int calls = 0;
  auto opt = options();
  opt.after_receive = [&](const std::vector<RefUpdate>& u) {
    ++calls;
    seen = u;
    return std::string("replicated to 2/3 nodes");
  };
  GitService svc(opt);
  // Tiny pieces: the capability line arrives split across many reads.
  FakeIo io(push_body(kZero, c1), 7);
  ServeResult r = svc.serve(post("app", GitPath::receive_pack), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (RefUpdate{"refs/heads/main", kZero, c1}));

  std::size_t rest = 1;
  auto packets = pkts(io.out, &rest);
  EXPECT_EQ(rest, 0u);
  ASSERT_GE(packets.size(), 3u);
  EXPECT_EQ(packets.back(), "0000");
  EXPECT_EQ(packets[packets.size() - 2], "\x02replicated to 2/3 nodes\n");
  EXPECT_TRUE(io.out.ends_with(pkt("\x02replicated to 2/3 nodes\n") + "0000"));
  EXPECT_NE(channel(packets, '\1').find("ok refs/heads/main"), std::string::npos);

  // The request's own hook wins; a huge message is cut to one side-band-64k packet.
  std::string c2 = commit("b", "2");
  GitRequest req = post("app", GitPath::receive_pack);
  req.after_receive = [](const std::vector<RefUpdate>&) { return std::string(100000, 'm'); };
  FakeIo big(push_body(c1, c2));
  r = svc.serve(req, big);
  EXPECT_EQ(calls, 1);
  packets = pkts(big.out, &rest);
  EXPECT_EQ(rest, 0u);
  ASSERT_GE(packets.size(), 2u);
  EXPECT_EQ(packets.back(), "0000");
  EXPECT_EQ(packets[packets.size() - 2].size(), kPktMaxData);
  EXPECT_EQ(packets[packets.size() - 2][0], '\x02');

  // Old-style side-band: packets of at most 1000 bytes.
  std::string c3 = commit("c", "3");
  req.after_receive = [](const std::vector<RefUpdate>&) { return std::string(5000, 'm'); };
  FakeIo small(push_body(c2, c3, "report-status side-band"));
  r = svc.serve(req, small);
  packets = pkts(small.out);
  ASSERT_GE(packets.size(), 2u);
  EXPECT_EQ(packets[packets.size() - 2].size(), 996u);

  // Without a sideband there is nowhere to put the line: no call, the response is git's.
  std::string c4 = commit("d", "4");
  FakeIo plain(push_body(c3, c4, "report-status"));
  r = svc.serve(post("app", GitPath::receive_pack), plain);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(r.updates.size(), 1u);
  EXPECT_EQ(plain.out.find('\x02'), std::string::npos);
  EXPECT_TRUE(plain.out.ends_with("0000"));

  // A push that changes nothing calls nothing.
  FakeIo noop(push_body(c4, c4));
  r = svc.serve(post("app", GitPath::receive_pack), noop);
  EXPECT_TRUE(r.updates.empty());
  EXPECT_EQ(calls, 1);
}

TEST_F(GitServiceTest, FetchReturnsPack) {
  std::string c1 = commit("a", "1");
  std::string c2 = commit("b", "2");
  GitService svc(options());
  push(svc, "app", kZero, c2);

  FakeIo io(pkt("want " + c2 + " multi_ack_detailed side-band-64k ofs-delta agent=t\n") + "0000" +
            pkt("have " + c1 + "\n") + pkt("done\n"));
  ServeResult r = svc.serve(post("app", GitPath::upload_pack), io);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_EQ(io.header("Content-Type"), "application/x-git-upload-pack-result");
  auto packets = pkts(io.out);
  ASSERT_FALSE(packets.empty());
  EXPECT_TRUE(packets[0].starts_with("ACK " + c1) || packets[0] == "NAK\n") << packets[0];
  std::string pack_data = channel(packets, '\1');
  ASSERT_EQ(pack_data.substr(0, 4), "PACK");
  // The pack is whole and valid: index-pack accepts it.
  TempDir check;
  std::string pack_file = (check.path / "x.pack").string();
  std::ofstream(pack_file, std::ios::binary) << pack_data;
  ShResult idx =
      sh("git init -q --bare " + quote(check.str()) + "/r && git --git-dir=" + quote(check.str()) +
         "/r index-pack " + quote(pack_file));
  EXPECT_EQ(idx.rc, 0) << idx.out;

  // A want the mirror does not have: git's own error, passed through.
  FakeIo bad(pkt("want " + std::string(40, 'a') + " side-band-64k\n") + "0000" + pkt("done\n"));
  r = svc.serve(post("app", GitPath::upload_pack), bad);
  EXPECT_NE(bad.out.find("not our ref"), std::string::npos) << bad.out << r.log;
}

TEST_F(GitServiceTest, ClientGoneWhileStreamingKillsGit) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  push(svc, "app", kZero, c1);
  FakeIo io(pkt("want " + c1 + " side-band-64k\n") + "0000" + pkt("done\n"));
  io.fail_write = true;
  ServeResult r = svc.serve(post("app", GitPath::upload_pack), io);
  EXPECT_TRUE(io.ended);
  EXPECT_FALSE(io.ok);
  EXPECT_NE(r.log.find("client went away"), std::string::npos) << r.log;
  EXPECT_EQ(svc.active(), 0u);
  EXPECT_TRUE(no_children());
}

TEST_F(GitServiceTest, ConcurrentFirstPushesCreateOnce) {
  const std::string c1 = commit("a", "1");
  GitService svc([&] {
    auto o = options();
    o.max_processes = 16;
    return o;
  }());
  constexpr int kN = 8;
  std::vector<ServeResult> results(kN);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kN; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kN) std::this_thread::yield();
      FakeIo io(push_body(kZero, c1));
      results[i] = svc.serve(post("race", GitPath::receive_pack), io);
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 200u) << r.log;
    created += r.created ? 1 : 0;
  }
  EXPECT_EQ(created, 1);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(repos_)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"race.git"});
}

TEST_F(GitServiceTest, FailedCreationLeavesNothing) {
  std::ofstream(repos_ / "blocked.git") << "not a repository";
  GitService svc(options());
  const std::string c1 = commit("a", "1");
  FakeIo io(push_body(kZero, c1));
  ServeResult r = svc.serve(post("blocked", GitPath::receive_pack), io);
  EXPECT_EQ(r.status, 500u) << r.log;
  EXPECT_FALSE(r.created);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(repos_)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"blocked.git"});
}

// git's auth probe before a push over http.postBuffer: a bare flush packet, answered as
// receive-pack would (200, an empty result) but without a git process — there is no git
// binary here at all — and without creating a mirror.
TEST_F(GitServiceTest, FlushProbeIsAnsweredWithoutGit) {
  auto opt = options();
  opt.git = "/nonexistent/git";
  GitService svc(opt);
  auto req = post("fresh", GitPath::receive_pack);
  req.headers.push_back({"Content-Length", "4"});
  FakeIo io("0000", 1);  // byte by byte
  ServeResult r = svc.serve(req, io);
  EXPECT_EQ(r.status, 200u) << r.log;
  EXPECT_TRUE(io.complete());
  EXPECT_EQ(io.out, "");
  EXPECT_EQ(io.header("Content-Type"), "application/x-git-receive-pack-result");
  EXPECT_NE(r.log.find("probe"), std::string::npos) << r.log;
  EXPECT_FALSE(fs::exists(repos_ / "fresh.git"));
  // Any other four bytes are no probe: they are for git (none installed here: 500).
  FakeIo other("0009x", 1);
  EXPECT_EQ(svc.serve(req, other).status, 500u);
}

TEST_F(GitServiceTest, MissingGitBinaryIs500) {
  auto opt = options();
  opt.git = "/nonexistent/git";
  GitService svc(opt);
  FakeIo io;
  EXPECT_EQ(svc.serve(info_refs("x", "git-receive-pack"), io).status, 500u);
}

// ---- a real git client through a minimal HTTP/1.1 server ----

// One connection per request (Connection: close), request bodies read whole (test code: the
// service itself streams), responses chunked as HttpIo produces them.
class MiniHttp {
 public:
  explicit MiniHttp(GitService& svc) : svc_(svc) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] { accept_loop(); });
  }
  ~MiniHttp() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    accept_.join();
    ::close(fd_);
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  int port() const { return port_; }
  std::vector<ServeResult> results() {
    std::lock_guard lock(mu_);
    return results_;
  }
  int chunked_requests() const { return chunked_; }
  // Runs on each request before it is served (set fields the plugin glue would set).
  std::function<void(GitRequest&)> prepare;
  int gzip_requests() const { return gzip_; }

 private:
  struct SocketIo : HttpIo {
    int fd;
    std::string body;
    std::size_t pos = 0;
    bool chunked = false;
    int read(char* buf, std::size_t cap, std::size_t* got) override {
      std::size_t n = std::min(cap, body.size() - pos);
      std::memcpy(buf, body.data() + pos, n);
      pos += n;
      *got = n;
      return 0;
    }
    int send_all(std::string_view d) {
      while (!d.empty()) {
        ssize_t n = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
        if (n <= 0) return -1;
        d.remove_prefix(static_cast<std::size_t>(n));
      }
      return 0;
    }
    int begin(unsigned status, const Headers& headers) override {
      std::string h = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
      for (const auto& [n, v] : headers) h += n + ": " + v + "\r\n";
      h += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
      return send_all(h);
    }
    int write(std::string_view d) override {
      char size[32];
      snprintf(size, sizeof size, "%zx\r\n", d.size());
      return send_all(size) || send_all(d) || send_all("\r\n") ? -1 : 0;
    }
    int end(bool ok) override {
      if (ok) return send_all("0\r\n\r\n");
      ::shutdown(fd, SHUT_RDWR);
      return 0;
    }
    int respond(unsigned status, std::string_view type, std::string_view b) override {
      return send_all("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " +
                      std::string(type) + "\r\nContent-Length: " + std::to_string(b.size()) +
                      "\r\nConnection: close\r\n\r\n" + std::string(b));
    }
  };

  void accept_loop() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_ || (errno != EINTR && errno != ECONNABORTED)) return;
        continue;
      }
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, c] {
        handle(c);
        ::close(c);
      });
    }
  }

  // Reads until `buf` holds `n` bytes past `pos`.
  static bool fill(int c, std::string& buf, std::size_t need) {
    char tmp[65536];
    while (buf.size() < need) {
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    return true;
  }
  static bool fill_until(int c, std::string& buf, std::size_t from, std::string_view delim,
                         std::size_t* at) {
    char tmp[65536];
    for (;;) {
      std::size_t p = buf.find(delim, from);
      if (p != std::string::npos) {
        *at = p;
        return true;
      }
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }

  void handle(int c) {
    std::string buf;
    std::size_t end = 0;
    if (!fill_until(c, buf, 0, "\r\n\r\n", &end)) return;
    std::istringstream head(buf.substr(0, end));
    std::string method, target, version, line;
    head >> method >> target >> version;
    std::getline(head, line);
    GitRequest req;
    req.method = method;
    std::map<std::string, std::string> hs;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      for (auto& ch : name) ch = static_cast<char>(tolower(ch));
      hs[name] = value;
      req.headers.push_back({name, value});
    }
    SocketIo io;
    io.fd = c;
    if (hs["expect"] == "100-continue") io.send_all("HTTP/1.1 100 Continue\r\n\r\n");
    std::string rest = buf.substr(end + 4);
    if (hs["content-encoding"] == "gzip") ++gzip_;
    if (hs["transfer-encoding"] == "chunked") {
      ++chunked_;
      std::size_t pos = 0;
      for (;;) {
        std::size_t eol;
        if (!fill_until(c, rest, pos, "\r\n", &eol)) return;
        std::size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
        if (!fill(c, rest, eol + 2 + size + 2)) return;
        io.body.append(rest, eol + 2, size);
        pos = eol + 2 + size + 2;
        if (size == 0) break;
      }
    } else if (hs.count("content-length")) {
      std::size_t len = std::stoul(hs["content-length"]);
      if (!fill(c, rest, len)) return;
      io.body = rest.substr(0, len);
    }
    std::string path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) req.query = target.substr(target.find('?') + 1);
    auto parsed = parse_git_path(path);
    if (!parsed) {
      io.respond(404, "text/plain", "not found\n");
      return;
    }
    req.path = *parsed;
    if (prepare) prepare(req);
    ServeResult r = svc_.serve(req, io);
    std::lock_guard lock(mu_);
    results_.push_back(r);
  }

  GitService& svc_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> chunked_{0}, gzip_{0};
  std::thread accept_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<ServeResult> results_;
};

TEST_F(GitServiceTest, EndToEndCloneAndPushWithRealGit) {
  std::string c1 = commit("a", "1");
  // Incompressible content, so the push body outgrows http.postBuffer and goes chunked.
  std::mt19937 rng(42);
  for (int i = 0; i < 8; ++i) {
    std::string data(50000, '\0');
    for (auto& ch : data) ch = static_cast<char>('a' + rng() % 26);
    commit("big" + std::to_string(i), data);
  }
  std::string tip = trimmed(sh("git -C " + quote(src_) + " rev-parse HEAD").out);
  std::vector<std::string> messages;
  std::mutex mu;
  auto opt = options();
  opt.after_receive = [&](const std::vector<RefUpdate>& u) {
    std::lock_guard lock(mu);
    messages.push_back(u.front().ref);
    return "mesh: replicated to 1/1 nodes";
  };
  GitService svc(opt);
  MiniHttp http(svc);
  std::string url = "http://127.0.0.1:" + std::to_string(http.port()) + "/proj.git";

  // The first push creates the mirror; the hook's line shows up as "remote: ...".
  ShResult pushed = sh(env() + "git -C " + quote(src_) + " -c http.postBuffer=65536 push " +
                       quote(url) + " main 2>&1");
  ASSERT_EQ(pushed.rc, 0) << pushed.out;
  EXPECT_NE(pushed.out.find("remote: mesh: replicated to 1/1 nodes"), std::string::npos)
      << pushed.out;
  EXPECT_EQ(mirror_refs("proj")["refs/heads/main"], tip);

  // Clone over protocol v2 (the default) and v0.
  for (const char* version : {"2", "0"}) {
    std::string dst = (tmp_.path / (std::string("clone-v") + version)).string();
    ShResult cloned = sh(env() + "git -c protocol.version=" + version + " clone -q " + quote(url) +
                         " " + quote(dst) + " 2>&1");
    ASSERT_EQ(cloned.rc, 0) << cloned.out;
    EXPECT_EQ(trimmed(sh("git -C " + quote(dst) + " rev-parse HEAD").out), tip);
    EXPECT_EQ(sh("git -C " + quote(dst) + " fsck --strict 2>&1").rc, 0);
  }

  // Work in the clone, push back, fetch into the source: a full round trip.
  std::string clone = (tmp_.path / "clone-v2").string();
  std::ofstream(fs::path(clone) / "new.txt") << "from the clone\n";
  ASSERT_EQ(sh(env() + "git -C " + quote(clone) + " add -A && " + env() + "git -C " + quote(clone) +
               " commit -q -m clone")
                .rc,
            0);
  ShResult again = sh(env() + "git -C " + quote(clone) + " push origin main 2>&1");
  ASSERT_EQ(again.rc, 0) << again.out;
  std::string new_tip = trimmed(sh("git -C " + quote(clone) + " rev-parse HEAD").out);
  EXPECT_EQ(mirror_refs("proj")["refs/heads/main"], new_tip);
  ShResult fetched = sh(env() + "git -C " + quote(src_) + " fetch -q " + quote(url) + " main 2>&1");
  ASSERT_EQ(fetched.rc, 0) << fetched.out;
  EXPECT_EQ(trimmed(sh("git -C " + quote(src_) + " rev-parse FETCH_HEAD").out), new_tip);

  // A rejected non-fast-forward reaches the client as git's own report.
  ShResult rejected = sh(env() + "git -C " + quote(src_) + " push " + quote(url) + " " + c1 +
                         ":refs/heads/main 2>&1");
  EXPECT_NE(rejected.rc, 0);
  EXPECT_EQ(mirror_refs("proj")["refs/heads/main"], new_tip);
  // A force push goes through and is reported as old -> new.
  ShResult forced = sh(env() + "git -C " + quote(src_) + " push -f " + quote(url) + " " + c1 +
                       ":refs/heads/main 2>&1");
  EXPECT_EQ(forced.rc, 0) << forced.out;
  EXPECT_EQ(mirror_refs("proj")["refs/heads/main"], c1);

  EXPECT_GT(http.chunked_requests(), 0);  // the first push (as libgit2 always sends)
  bool saw_force = false;
  for (const auto& r : http.results()) {
    for (const auto& u : r.updates) {
      if (u.old_oid == new_tip && u.new_oid == c1) saw_force = true;
    }
  }
  EXPECT_TRUE(saw_force);
  // The pushes over postBuffer were preceded by git's flush probe, answered without git.
  bool saw_probe = false;
  for (const auto& r : http.results())
    saw_probe = saw_probe || r.log.find("probe") != std::string::npos;
  EXPECT_TRUE(saw_probe);
  std::lock_guard lock(mu);
  EXPECT_EQ(messages.size(), 3u);  // first push, push from the clone, forced push
}

// What clients see of the parked namespace and of divergence notes, with the real git: parked
// tips are not advertised to a user's client but fetchable by their oid; nobody can push into
// refs/mesh/; a fetch's "remote:" note arrives before upload-pack's final flush (v2 and v0).
TEST_F(GitServiceTest, ParkedTipsAreHiddenFetchableByOidAndNotPushable) {
  std::string c1 = commit("a", "1");
  GitService svc(options());
  MiniHttp http(svc);
  http.prepare = [](GitRequest& r) {
    if (r.path.what == GitPath::upload_pack) r.fetch_notice = "mesh: main diverged: a note";
  };
  std::string url = "http://127.0.0.1:" + std::to_string(http.port()) + "/proj.git";
  ASSERT_EQ(sh(env() + "git -C " + quote(src_) + " push -q " + quote(url) + " main 2>&1").rc, 0);
  // A second line of work, parked in the mirror the way the replicator parks tips.
  sh("git -C " + quote(src_) + " checkout -q -b side " + c1);
  std::string side = commit("s", "side");
  std::string mirror = (repos_ / "proj.git").string();
  ASSERT_EQ(sh("git -C " + quote(src_) + " push -q " + quote(mirror) + " side:refs/mesh/parked/" +
               side + "/heads/main 2>&1")
                .rc,
            0);
  ShResult ls = sh(env() + "git ls-remote " + quote(url) + " 2>&1");
  ASSERT_EQ(ls.rc, 0) << ls.out;
  EXPECT_NE(ls.out.find("refs/heads/main"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find("refs/mesh/"), std::string::npos) << ls.out;

  for (const char* version : {"2", "0"}) {
    std::string dst = (tmp_.path / (std::string("clone-") + version)).string();
    ShResult cloned = sh(env() + "git -c protocol.version=" + version + " clone " + quote(url) +
                         " " + quote(dst) + " 2>&1");
    ASSERT_EQ(cloned.rc, 0) << cloned.out;
    EXPECT_NE(cloned.out.find("remote: mesh: main diverged: a note"), std::string::npos)
        << "v" << version << ":\n"
        << cloned.out;
    ShResult by_oid = sh(env() + "git -c protocol.version=" + version + " -C " + quote(dst) +
                         " fetch " + quote(url) + " " + side + " 2>&1");
    ASSERT_EQ(by_oid.rc, 0) << "v" << version << ": " << by_oid.out;
    EXPECT_EQ(trimmed(sh("git -C " + quote(dst) + " rev-parse FETCH_HEAD").out), side);
    EXPECT_NE(by_oid.out.find("remote: mesh: main diverged: a note"), std::string::npos)
        << by_oid.out;
  }
  // Up to date: no pack, no note, and nothing broken.
  ShResult nothing =
      sh(env() + "git -C " + quote((tmp_.path / "clone-2").string()) + " fetch origin 2>&1");
  EXPECT_EQ(nothing.rc, 0) << nothing.out;

  // Pushing into the parked namespace is refused by git itself, whatever the client sends.
  ShResult forge = sh(env() + "git -C " + quote(src_) + " push " + quote(url) + " " + c1 +
                      ":refs/mesh/parked/" + c1 + "/heads/main 2>&1");
  EXPECT_NE(forge.rc, 0);
  EXPECT_NE(forge.out.find("hidden ref"), std::string::npos) << forge.out;
  ShResult del = sh(env() + "git -C " + quote(src_) + " push " + quote(url) +
                    " :refs/mesh/parked/" + side + "/heads/main 2>&1");
  EXPECT_NE(del.rc, 0);
  EXPECT_EQ(mirror_refs("proj").count("refs/mesh/parked/" + side + "/heads/main"), 1u);
}

}  // namespace
