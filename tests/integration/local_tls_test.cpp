// TLS for the user's own clients and what loopback trust rests on, with a real daemon (issue
// #9): after `mesh ssl` the system git clones and pushes over https with verification on and
// refuses a node whose certificate was replaced; libgit2 (pygit2 from Debian: mbedTLS 2.28, no
// TLS 1.3, no Ed25519) clones and pushes with the CA file; curl verifies; a foreign Host or
// Origin is refused on the UI, a plugin route and git's info/refs.
//
// Needs python3-pygit2 (Debian) for /usr/bin/python3.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "harness.hpp"
#include "trio.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// One node with replication and the test plugin, and a private HOME whose global git config
// only `mesh ssl` writes to.
struct LocalNode {
  TempDir dir;
  Node n;
  fs::path home;

  explicit LocalNode(const std::string& tag, const std::string& name = "alice")
      : dir(tag), n(dir.path(), name), home(dir.path() / "home") {
    fs::create_directories(home);
    n.write_config({"replication", "test-hello"});
  }
  std::vector<std::string> env() const {
    return {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
            "XDG_CONFIG_HOME=" + (home / ".config").string()};
  }
  // `mesh ... ` with this HOME (mesh ssl writes the user's global git config).
  Proc mesh(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{mesh_bin(), "--root", n.root().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env());
  }
  // The system git with verification on (nothing but the global config of this HOME).
  Proc git(const std::vector<std::string>& args, const fs::path& cwd = {}) const {
    // Variables that would override git's http.<url>.sslCAInfo (some CI images set them).
    std::vector<std::string> argv{"env"};
    for (const char* v : {"GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY", "SSL_CERT_FILE",
                          "SSL_CERT_DIR", "CURL_CA_BUNDLE"}) {
      argv.insert(argv.end(), {"-u", v});
    }
    argv.push_back("git");
    if (!cwd.empty()) argv.insert(argv.end(), {"-C", cwd.string()});
    argv.insert(argv.end(), {"-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
                             "init.defaultBranch=main"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env(), std::chrono::seconds(120));
  }
  std::string https(const std::string& repo) const {
    return "https://localhost:" + std::to_string(n.port()) + "/" + repo + ".git";
  }
  fs::path ca() const { return n.root() / "tls" / "local-ca.pem"; }
  fs::path work(const std::string& name, int commits) const {
    auto path = dir.path() / ("work-" + name);
    EXPECT_EQ(git({"init", "-q", path.string()}).exit, 0);
    for (int i = 0; i < commits; ++i) {
      std::ofstream(path / ("f" + std::to_string(i))) << i << "\n";
      EXPECT_EQ(git({"add", "."}, path).exit, 0);
      EXPECT_EQ(git({"commit", "-q", "-m", "c" + std::to_string(i)}, path).exit, 0);
    }
    return path;
  }
};

// pygit2 clones url (trusting only `ca`), commits one file and pushes main; prints the new oid.
constexpr const char* kPygit2Script = R"PY(
import sys, pygit2
url, ca, path = sys.argv[1:4]
if ca:
    pygit2.settings.set_ssl_cert_locations(ca, None)

class Callbacks(pygit2.RemoteCallbacks):
    def push_update_reference(self, refname, message):
        if message:
            raise RuntimeError("push of %s refused: %s" % (refname, message))

repo = pygit2.clone_repository(url, path, callbacks=Callbacks())
sig = pygit2.Signature("py", "py@example.com")
builder = repo.TreeBuilder(repo.head.peel().tree)
builder.insert("pygit2.txt", repo.create_blob(b"from libgit2\n"), pygit2.GIT_FILEMODE_BLOB)
oid = repo.create_commit("refs/heads/main", sig, sig, "from pygit2", builder.write(),
                         [repo.head.target])
repo.remotes["origin"].push(["refs/heads/main:refs/heads/main"], callbacks=Callbacks())
print(oid)
)PY";

}  // namespace

TEST(LocalTls, GitVerifiesTheNodeAfterMeshSsl) {
  LocalNode t("local-tls-git");
  ASSERT_EQ(t.n.start().exit, 0);
  // The daemon wrote both certificates for local clients.
  const std::string ca_text = read_text(t.ca());
  ASSERT_NE(ca_text.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(ca_text.find("PRIVATE KEY"), std::string::npos);

  // Before `mesh ssl` git refuses the self-signed certificate: verification is on.
  auto work = t.work("app", 2);
  auto before = t.git({"push", "-q", t.https("app"), "main"}, work);
  EXPECT_NE(before.exit, 0);

  auto ssl = t.mesh({"--json", "ssl"});
  ASSERT_EQ(ssl.exit, 0) << ssl.err;
  auto doc = boost::json::parse(ssl.out);
  const std::string key = "http.https://localhost:" + std::to_string(t.n.port()) + ".sslCAInfo";
  EXPECT_EQ(doc.at("key").as_string(), key);
  EXPECT_EQ(fs::path(std::string(doc.at("value").as_string())), fs::absolute(t.ca()));
  EXPECT_EQ(trim(t.git({"config", "--global", "--get", key}).out), fs::absolute(t.ca()).string());
  EXPECT_EQ(t.git({"config", "--global", "--get",
                   "http.https://localhost:" + std::to_string(t.n.port()) + ".sslVerify"})
                .exit,
            1);  // not set: nothing turns verification off
  auto text = t.mesh({"ssl"});
  ASSERT_EQ(text.exit, 0) << text.err;
  EXPECT_NE(text.out.find("verification stays on"), std::string::npos) << text.out;

  auto push = t.git({"push", "-q", t.https("app"), "main"}, work);
  ASSERT_EQ(push.exit, 0) << push.err;
  auto clone_dir = t.dir.path() / "clone";
  auto clone = t.git({"clone", "-q", t.https("app"), clone_dir.string()});
  ASSERT_EQ(clone.exit, 0) << clone.err;
  EXPECT_EQ(trim(t.git({"rev-parse", "HEAD"}, clone_dir).out),
            trim(t.git({"rev-parse", "HEAD"}, work).out));

  // curl verifies with the same file, by name and by address.
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto c = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*",
                  "--cacert", t.ca().string(),
                  "https://" + host + ":" + std::to_string(t.n.port()) +
                      "/app.git/info/refs?service=git-upload-pack"});
    EXPECT_EQ(c.exit, 0) << host << ": " << c.err;
    EXPECT_EQ(c.out, "200") << host;
  }

  // The certificates are byte-identical after a restart, so git keeps trusting the node.
  ASSERT_EQ(t.n.stop().exit, 0);
  ASSERT_EQ(t.n.restart().exit, 0);
  EXPECT_EQ(read_text(t.ca()), ca_text);
  auto again = t.git({"ls-remote", t.https("app")});
  EXPECT_EQ(again.exit, 0) << again.err;

  // sslVerify=false (the original instruction) keeps working, and mesh ssl points it out.
  const std::string verify = "http.https://localhost:" + std::to_string(t.n.port()) + ".sslVerify";
  ASSERT_EQ(t.git({"config", "--global", verify, "false"}).exit, 0);
  auto noted = t.mesh({"ssl"});
  EXPECT_EQ(noted.exit, 0);
  EXPECT_NE(noted.err.find("--unset " + verify), std::string::npos) << noted.err;
  EXPECT_EQ(t.git({"ls-remote", t.https("app")}).exit, 0);
}

TEST(LocalTls, AReplacedCertificateAtThePortIsRefused) {
  LocalNode t("local-tls-replaced");
  ASSERT_EQ(t.n.start().exit, 0);
  auto work = t.work("app", 1);
  ASSERT_EQ(t.mesh({"ssl"}).exit, 0);
  ASSERT_EQ(t.git({"push", "-q", t.https("app"), "main"}, work).exit, 0);
  const std::string listen = t.n.listen();
  ASSERT_EQ(t.n.stop().exit, 0);

  // Another node (another root, other keys) now answers on the same port.
  Node other(t.dir.path(), "mallory");
  other.write_config({"replication"});
  auto started = other.start(listen);
  ASSERT_EQ(started.exit, 0) << started.err;
  ASSERT_EQ(other.port(), t.n.port());
  auto refused = t.git({"ls-remote", t.https("app")});
  EXPECT_NE(refused.exit, 0);
  EXPECT_NE(refused.err.find("certificate"), std::string::npos) << refused.err;
  auto c = run({"curl", "-s", "--noproxy", "*", "--cacert", t.ca().string(),
                "https://localhost:" + std::to_string(t.n.port()) + "/"});
  EXPECT_NE(c.exit, 0);
  ASSERT_EQ(other.stop().exit, 0);
}

TEST(LocalTls, Pygit2ClonesAndPushesOverHttpsWithTheCaFile) {
  LocalNode t("local-tls-pygit2");
  ASSERT_EQ(t.n.start().exit, 0);
  auto work = t.work("app", 2);
  ASSERT_EQ(t.mesh({"ssl"}).exit, 0);
  ASSERT_EQ(t.git({"push", "-q", t.https("app"), "main"}, work).exit, 0);
  const fs::path script = t.dir.path() / "pygit2_push.py";
  std::ofstream(script) << kPygit2Script;
  auto probe = run({"/usr/bin/python3", "-c", "import pygit2"});
  ASSERT_EQ(probe.exit, 0) << "this test needs python3-pygit2 (apt-get install python3-pygit2): "
                           << probe.err;

  // Without the CA file libgit2 refuses the certificate: verification is really on.
  auto untrusted = run({"/usr/bin/python3", script.string(), t.https("app"), "",
                        (t.dir.path() / "py-untrusted").string()},
                       t.env());
  EXPECT_NE(untrusted.exit, 0);

  auto py = run({"/usr/bin/python3", script.string(), t.https("app"), t.ca().string(),
                 (t.dir.path() / "py-clone").string()},
                t.env());
  ASSERT_EQ(py.exit, 0) << py.err;
  const std::string oid = trim(py.out);
  ASSERT_EQ(oid.size(), 40u) << py.out;
  // The system git sees the commit libgit2 pushed.
  auto remote = t.git({"ls-remote", t.https("app"), "refs/heads/main"});
  ASSERT_EQ(remote.exit, 0) << remote.err;
  EXPECT_TRUE(remote.out.starts_with(oid)) << remote.out;
  // libgit2 spoke TLS 1.2 with the P-256 certificate: the daemon logged no refusal of it.
  EXPECT_TRUE(log_lines_with(t.n, "TLS handshake failed").empty());
}

TEST(LoopbackTrust, ForeignHostAndOriginAreRefusedOnEveryKindOfRoute) {
  LocalNode t("loopback-trust");
  ASSERT_EQ(t.n.start().exit, 0);
  auto work = t.work("app", 1);
  auto push = t.git({"-c", "http.sslVerify=false", "push", "-q", t.https("app"), "main"}, work);
  ASSERT_EQ(push.exit, 0) << push.err;
  auto status = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"curl", "-s",           "-o",        "/dev/null",
                                  "-w",   "%{http_code}", "--noproxy", "*"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv).out;
  };
  const std::string ui = t.n.http_url("/");
  const std::string plugin = t.n.http_url("/hello");
  const std::string refs = t.n.http_url("/app.git/info/refs?service=git-upload-pack");
  for (const auto& url : {ui, plugin, refs}) {
    EXPECT_EQ(status({url}), "200") << url;
    EXPECT_EQ(status({"-H", "Host: evil.example", url}), "421") << url;
    EXPECT_EQ(
        status({"-k", "-H", "Host: evil.example",
                "https://localhost:" + std::to_string(t.n.port()) + url.substr(url.find('/', 8))}),
        "421")
        << url;
  }
  // A cross-site POST (a foreign Origin) is refused, also on git's routes; git's own POSTs
  // carry no Origin and keep working (the push above, and this fetch).
  const std::string pack = t.n.http_url("/app.git/git-upload-pack");
  EXPECT_EQ(status({"-H", "Origin: http://evil.example", "-H",
                    "Content-Type: application/x-git-upload-pack-request", "--data-binary", "0000",
                    pack}),
            "403");
  EXPECT_EQ(
      status({"-H", "Origin: http://evil.example", "--data", "x", t.n.http_url("/hello/echo")}),
      "403");
  auto fetch = t.git({"ls-remote", "http://127.0.0.1:" + std::to_string(t.n.port()) + "/app.git"});
  EXPECT_EQ(fetch.exit, 0) << fetch.err;
  EXPECT_FALSE(log_lines_with(t.n, "does not name this machine").empty());
}
