// `mesh update` end to end (docs/updates.md): real daemons running an installed mesh, a real
// release server on loopback serving real archives of this build (the current version and a
// bumped one, made by update_fixture.sh with cpack and signed with minisign), the real git
// client. What is checked is what a user sees: the version a daemon runs, its repos and
// members, the install links, the errors.
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "test_http_server.hpp"
#include "test_util.hpp"
#include "update_nodes.hpp"

namespace mesh::test {
namespace {
namespace json = boost::json;
using updater::test::TestHttpServer;

const UpdateFixture& fx() {
  const auto* f = UpdateFixture::get();
  if (!f)
    ADD_FAILURE() << "no update fixture in " << UPDATE_FIXTURE_DIR
                  << " (ctest runs integration.update_fixture first)";
  static UpdateFixture empty;
  return f ? *f : empty;
}

// The real git client with a private HOME.
struct Git {
  fs::path home;
  Proc operator()(const std::vector<std::string>& args, const fs::path& cwd = {}) const {
    std::vector<std::string> argv{"git"};
    if (!cwd.empty()) argv.insert(argv.end(), {"-C", cwd.string()});
    argv.insert(argv.end(), {"-c", "user.name=t", "-c", "user.email=t@example.com", "-c",
                             "init.defaultBranch=main"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"HOME=" + home.string(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"},
               std::chrono::seconds(120));
  }
  std::string commit(const fs::path& work, const std::string& text) const {
    spit(work / "file.txt", text);
    EXPECT_EQ((*this)({"add", "file.txt"}, work).exit, 0);
    EXPECT_EQ((*this)({"commit", "-qm", text}, work).exit, 0);
    auto p = (*this)({"rev-parse", "HEAD"}, work);
    return p.out.substr(0, 40);
  }
  // refs/heads/main on a node, or "".
  std::string main_of(const InstalledNode& n, const std::string& repo) const {
    auto p = (*this)({"ls-remote", n.http_url("/" + repo + ".git"), "refs/heads/main"});
    return p.exit == 0 ? p.out.substr(0, 40) : "";
  }
};

std::set<std::string> up_peers(const InstalledNode& n) {
  std::set<std::string> out;
  auto p = n.mesh({"--json", "peers"});
  boost::system::error_code ec;
  auto v = json::parse(p.out, ec);
  if (p.exit != 0 || ec || !v.is_array()) return out;
  for (const auto& e : v.as_array())
    if (e.at("state").as_string() == "up") out.insert(std::string(e.at("name").as_string()));
  return out;
}

// plugins.updater of a member in `mesh peers --json`.
json::value updater_beat(const InstalledNode& n, const std::string& member) {
  auto p = n.mesh({"--json", "peers"});
  boost::system::error_code ec;
  auto v = json::parse(p.out, ec);
  if (p.exit != 0 || ec || !v.is_array()) return nullptr;
  for (const auto& e : v.as_array()) {
    if (e.at("name").as_string() != member) continue;
    const auto* pl = e.as_object().if_contains("plugins");
    if (!pl || !pl->is_object()) return nullptr;
    const auto* u = pl->as_object().if_contains("updater");
    return u ? *u : json::value(nullptr);
  }
  return nullptr;
}

void pair(InstalledNode& a, InstalledNode& b) {
  auto inv = a.mesh_json({"invite"});
  ASSERT_TRUE(inv.is_object());
  auto j = b.mesh({"join", std::string(inv.at("token").as_string())});
  ASSERT_EQ(j.exit, 0) << j.err;
  ASSERT_TRUE(eventually([&] { return up_peers(a).count(b.name()) && up_peers(b).count(a.name()); },
                         std::chrono::seconds(45)));
}

// Nothing of an update happened: same daemon, same version, same links, nothing kept.
void expect_unchanged(const InstalledNode& n, int pid, const std::string& version) {
  EXPECT_EQ(n.daemon_pid(), pid) << "the daemon was restarted";
  EXPECT_EQ(n.node("version"), version);
  EXPECT_EQ(n.link("current"), "versions/" + version);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(n.prefix() / "lib" / "mesh" / "versions", ec))
    EXPECT_EQ(e.path().filename().string(), version) << "left behind: " << e.path();
  for (const char* sub : {"archives", "tmp"}) {
    for (const auto& e : fs::directory_iterator(n.data() / sub, ec))
      ADD_FAILURE() << "left behind: " << e.path();
  }
  EXPECT_FALSE(fs::exists(n.data() / "pending.json"));
  EXPECT_FALSE(fs::exists(n.data() / "last.json"));
}

std::string last_result(const InstalledNode& n) {
  boost::system::error_code ec;
  auto v = json::parse(slurp(n.data() / "last.json"), ec);
  return ec || !v.is_object() ? "" : std::string(v.at("result").as_string());
}

TEST(Update, AppliesFromTheSourceThenAMemberFetchesItFromThatNode) {
  const auto& f = fx();
  ASSERT_FALSE(f.bumped.empty());
  TempDir dir("update-pair");
  TestHttpServer server(updater::test::static_files(f.release()));
  InstalledNode a(dir.path(), "alice"), b(dir.path(), "bob");
  a.write_config({"replication", "updater"}, updater_toml(server.url(""), f.key_line()));
  // bob has no route to the release server: only alice can give it the release.
  b.write_config({"replication", "updater"}, updater_toml("http://127.0.0.1:9", f.key_line()));
  ASSERT_EQ(a.start().exit, 0);
  ASSERT_EQ(b.start().exit, 0);
  ASSERT_NO_FATAL_FAILURE(pair(a, b));
  const std::string listen = a.listen();

  Git git{dir.path() / "home"};
  fs::create_directories(git.home);
  fs::path work = dir.path() / "work";
  ASSERT_EQ(git({"init", "-q", work.string()}).exit, 0);
  std::string first = git.commit(work, "one");
  ASSERT_EQ(git({"push", "-q", a.http_url("/app.git"), "main"}, work).exit, 0);
  ASSERT_TRUE(eventually([&] { return git.main_of(b, "app") == first; }, std::chrono::seconds(30)));

  // --check: the source offers the bumped release, signed by the release key.
  auto check = a.mesh_json({"update", "--check"});
  EXPECT_EQ(check.at("current").as_string(), f.current);
  EXPECT_EQ(check.at("available").as_string(), f.bumped);
  EXPECT_EQ(check.at("applied").as_bool(), false);
  EXPECT_EQ(check.at("signed").as_bool(), true);
  auto bcheck = b.mesh({"update", "--check"});
  EXPECT_EQ(bcheck.exit, 1);
  EXPECT_NE(bcheck.err.find("error: cannot check"), std::string::npos) << bcheck.err;

  // A member that serves an archive the release key did not sign is refused like any source.
  const int bob_pid = b.daemon_pid();
  {
    fs::path store = a.data() / "archives";
    fs::create_directories(store);
    fs::path planted = store / f.archive_name(f.bumped);
    fs::copy_file(f.bumped_archive(), planted);
    auto s = run({"minisign", "-S", "-s", f.key("other", "key").string(), "-m", planted.string()});
    ASSERT_EQ(s.exit, 0) << s.err;
    auto bad = b.mesh({"update", "--from", "alice"});
    EXPECT_EQ(bad.exit, 1);
    EXPECT_NE(bad.err.find("[wrong_key]"), std::string::npos) << bad.err;
    expect_unchanged(b, bob_pid, f.current);
    fs::remove_all(store);
  }

  // Pushed right before the update: the commit must survive the restart and replicate.
  std::string second = git.commit(work, "two");
  ASSERT_EQ(git({"push", "-q", a.http_url("/app.git"), "main"}, work).exit, 0);
  const int alice_pid = a.daemon_pid();
  auto up = a.mesh({"--json", "update"});
  ASSERT_EQ(up.exit, 0) << up.err << "\n" << slurp(a.root() / "logs" / "update.log");
  auto doc = json::parse(up.out);
  EXPECT_EQ(doc.at("current").as_string(), f.bumped);
  EXPECT_EQ(doc.at("applied").as_bool(), true);
  EXPECT_EQ(doc.at("source").as_string(), server.url(""));

  EXPECT_EQ(a.node("version"), f.bumped);
  EXPECT_EQ(a.node("listen"), listen) << "the daemon must come back on the same address";
  EXPECT_NE(a.daemon_pid(), alice_pid);
  EXPECT_EQ(a.link("current"), "versions/" + f.bumped);
  EXPECT_EQ(a.link("previous"), "versions/" + f.current);
  EXPECT_EQ(last_result(a), "updated");
  EXPECT_EQ(git.main_of(a, "app"), second);
  EXPECT_TRUE(
      eventually([&] { return git.main_of(b, "app") == second; }, std::chrono::seconds(30)));
  EXPECT_TRUE(eventually([&] { return up_peers(a).count("bob") > 0; }, std::chrono::seconds(30)));
  auto plugins = a.mesh_json({"plugins"});
  for (const auto& p : plugins.as_array()) {
    EXPECT_EQ(p.at("version").as_string(), f.bumped);
    EXPECT_EQ(p.at("state").as_string(), "running");
  }
  // The outcome is in the daemon's log, and anti-rollback now counts the new version.
  EXPECT_TRUE(eventually([&] {
    return slurp(a.root() / "logs" / "mesh.log").find("updater: updated from " + f.current) !=
           std::string::npos;
  }));
  EXPECT_TRUE(eventually(
      [&] { return slurp(a.data() / "highest.json").find(f.bumped) != std::string::npos; }));

  // bob sees alice's version and what she serves in her heartbeats (mesh peers --json).
  ASSERT_TRUE(eventually(
      [&] {
        auto beat = updater_beat(b, "alice");
        return beat.is_object() && beat.at("version").as_string() == f.bumped;
      },
      std::chrono::seconds(30)));
  auto beat = updater_beat(b, "alice");
  ASSERT_EQ(beat.at("serves").as_array().size(), 1u);
  EXPECT_EQ(beat.at("serves").as_array()[0].as_string(), f.bumped);
  auto bcheck2 = b.mesh({"--json", "update", "--check"});  // the source still fails
  EXPECT_EQ(bcheck2.exit, 0) << bcheck2.err;
  auto bdoc = json::parse(bcheck2.out);
  EXPECT_EQ(bdoc.at("from_peer").at("name").as_string(), "alice");
  EXPECT_EQ(bdoc.at("from_peer").at("version").as_string(), f.bumped);
  EXPECT_EQ(bdoc.at("from_peer").at("signed").as_bool(), true);

  // bob takes it from alice over the member link, verified the same way.
  auto from = b.mesh({"--json", "update", "--from", "alice"});
  ASSERT_EQ(from.exit, 0) << from.err << "\n" << slurp(b.root() / "logs" / "update.log");
  auto fdoc = json::parse(from.out);
  EXPECT_EQ(fdoc.at("current").as_string(), f.bumped);
  EXPECT_EQ(fdoc.at("applied").as_bool(), true);
  EXPECT_NE(std::string(fdoc.at("source").as_string()).find("peer alice"), std::string::npos);
  EXPECT_EQ(b.node("version"), f.bumped);
  EXPECT_EQ(slurp(b.data() / "archives" / (f.archive_name(f.bumped) + ".sha256")),
            slurp(a.data() / "archives" / (f.archive_name(f.bumped) + ".sha256")));
  EXPECT_EQ(git.main_of(b, "app"), second);
  EXPECT_TRUE(eventually([&] { return up_peers(a).count("bob") && up_peers(b).count("alice"); },
                         std::chrono::seconds(30)));

  // And back by hand.
  auto back = b.mesh({"update", "--rollback"});
  ASSERT_EQ(back.exit, 0) << back.err;
  EXPECT_NE(back.out.find("rolled back from " + f.bumped + " to " + f.current), std::string::npos)
      << back.out;
  EXPECT_EQ(b.node("version"), f.current);
  EXPECT_EQ(b.link("current"), "versions/" + f.current);
  EXPECT_EQ(b.link("previous"), "versions/" + f.bumped);
  EXPECT_EQ(git.main_of(b, "app"), second);
}

// One node and a release server whose answers each case chooses.
class Refusals : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(fx().bumped.empty());
    server_ = std::make_unique<TestHttpServer>([this](int fd, const updater::test::HttpRequest& r) {
      std::string mode;
      {
        std::lock_guard lock(mu_);
        mode = mode_;
      }
      if (mode == "hang") return server_->hold_until_stopped();
      if (mode == "truncate" && r.path.size() > 7 &&
          r.path.substr(r.path.size() - 7) == ".tar.gz") {
        // Every attempt ends at the same byte, also when resumed: a download that never
        // completes.
        std::string body = slurp(root_ / r.path.substr(1));
        std::int64_t from = 0, half = static_cast<std::int64_t>(body.size() / 2);
        auto range = r.headers.find("range");
        if (range != r.headers.end() && range->second.rfind("bytes=", 0) == 0)
          from = std::atoll(range->second.c_str() + 6);
        return updater::test::serve_content(fd, r, body, "\"v1\"",
                                            std::max<std::int64_t>(0, half - from));
      }
      updater::test::static_files(root_)(fd, r);
    });
    node_ = std::make_unique<InstalledNode>(dir_.path(), "alice");
    // Short stalls and few attempts: a server that never answers fails in seconds.
    node_->write_config({"updater"}, updater_toml(server_->url(""), fx().key_line(),
                                                  "stall_timeout_ms = 2000\nattempts = 2\n"));
    ASSERT_EQ(node_->start().exit, 0);
    pid_ = node_->daemon_pid();
  }
  void TearDown() override { node_.reset(); }

  // A copy of the bumped release to spoil.
  fs::path release_copy(const std::string& name) {
    fs::path d = dir_.path() / name;
    fs::copy(fx().release(), d, fs::copy_options::recursive);
    return d;
  }
  fs::path archive_in(const fs::path& release) const {
    return release / "download" / ("v" + fx().bumped) / fx().archive_name(fx().bumped);
  }
  void serve(const fs::path& root, const std::string& mode = "") {
    std::lock_guard lock(mu_);
    root_ = root;
    mode_ = mode;
  }
  // Runs mesh update; expects a refusal mentioning `what`, and no trace of it.
  void expect_refused(const std::string& what) {
    auto p = node_->mesh({"update"});
    EXPECT_EQ(p.exit, 1) << p.out;
    EXPECT_EQ(p.err.rfind("error: ", 0), 0u) << p.err;
    EXPECT_NE(p.err.find(what), std::string::npos) << p.err;
    std::cout << "  refused as the user sees it: " << p.err;
    expect_unchanged(*node_, pid_, fx().current);
  }

  TempDir dir_{"update-refusals"};
  std::mutex mu_;
  fs::path root_;
  std::string mode_;
  std::unique_ptr<TestHttpServer> server_;
  std::unique_ptr<InstalledNode> node_;
  int pid_ = -1;
};

TEST_F(Refusals, TamperedArchive) {
  fs::path rel = release_copy("tampered");
  std::string bytes = slurp(archive_in(rel));
  bytes[bytes.size() / 2] ^= 0x01;
  spit(archive_in(rel), bytes);
  serve(rel);
  expect_refused("[bad_signature]");
}

TEST_F(Refusals, SignedWithAnotherKey) {
  fs::path rel = release_copy("other-key");
  auto s = run(
      {"minisign", "-S", "-s", fx().key("other", "key").string(), "-m", archive_in(rel).string()});
  ASSERT_EQ(s.exit, 0) << s.err;
  serve(rel);
  expect_refused("[wrong_key]");
}

TEST_F(Refusals, GenuineSignatureOfAnotherFile) {
  fs::path rel = release_copy("other-file");
  // The current version's own, valid signature, passed off as the new one's.
  fs::path genuine = fx().release_current() / "download" / ("v" + fx().current) /
                     (fx().archive_name(fx().current) + ".minisig");
  fs::copy_file(genuine, archive_in(rel).string() + ".minisig",
                fs::copy_options::overwrite_existing);
  serve(rel);
  expect_refused("[wrong_file]");
}

TEST_F(Refusals, TruncatedDownload) {
  serve(fx().release(), "truncate");
  expect_refused("[network]");
}

TEST_F(Refusals, ArchiveWithDotDotPaths) {
  fs::path rel = release_copy("dotdot");
  std::string top = "mesh-" + fx().bumped + "-linux-" + fx().arch;
  updater::test::write_tar_gz(archive_in(rel), {{top + "/", '5', 0755, "", ""},
                                                {top + "/bin/", '5', 0755, "", ""},
                                                {top + "/bin/mesh", '0', 0755, "#!/bin/sh\n", ""},
                                                {top + "/../escaped", '0', 0644, "outside\n", ""}});
  updater::test::TestKey key{fx().key("release", "pub"), fx().key("release", "key"), ""};
  updater::test::sign(key, archive_in(rel));
  // The metadata describes the new archive (or it would be refused as a mismatch first).
  auto sum = run({"sha256sum", archive_in(rel).string()});
  ASSERT_EQ(sum.exit, 0);
  const auto size = static_cast<std::int64_t>(fs::file_size(archive_in(rel)));
  for (const fs::path& p :
       {rel / "releases" / "latest", rel / "releases" / "tags" / ("v" + fx().bumped)}) {
    boost::system::error_code ec;
    auto v = json::parse(slurp(p), ec);
    ASSERT_FALSE(ec);
    auto& asset = v.at("assets").as_array()[0].as_object();
    ASSERT_EQ(asset.at("name").as_string(), fx().archive_name(fx().bumped));
    asset["size"] = size;
    asset["digest"] = "sha256:" + sum.out.substr(0, 64);
    spit(p, json::serialize(v));
  }
  serve(rel);
  expect_refused("[unsafe_archive]");
  EXPECT_FALSE(fs::exists(node_->prefix() / "lib" / "mesh" / "escaped"));
}

TEST_F(Refusals, ServerThatNeverAnswers) {
  serve(fx().release(), "hang");
  expect_refused("[timeout]");
}

TEST_F(Refusals, OlderVersionWithoutForce) {
  // A node on the bumped version, installed from its tarball by hand (docs/releasing.md).
  node_->stop();
  fs::remove_all(node_->prefix() / "lib" / "mesh" / "versions" / fx().current);
  install_tarball(node_->prefix(), fx().bumped_archive(), fx().bumped,
                  "mesh-" + fx().bumped + "-linux-" + fx().arch);
  ASSERT_EQ(node_->start().exit, 0);
  const int pid = node_->daemon_pid();
  serve(fx().release_current());
  auto p = node_->mesh({"update"});
  EXPECT_EQ(p.exit, 1);
  EXPECT_NE(p.err.find("[rollback]"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("--force"), std::string::npos) << p.err;
  EXPECT_EQ(node_->daemon_pid(), pid);
  EXPECT_EQ(node_->node("version"), fx().bumped);
  EXPECT_FALSE(fs::exists(node_->prefix() / "lib" / "mesh" / "versions" / fx().current));

  // --force installs it, and the mark keeps the newer version.
  auto forced = node_->mesh({"--json", "update", "--force"});
  ASSERT_EQ(forced.exit, 0) << forced.err << slurp(node_->root() / "logs" / "update.log");
  EXPECT_EQ(node_->node("version"), fx().current);
  EXPECT_TRUE(eventually([&] {
    return slurp(node_->data() / "highest.json").find(fx().bumped) != std::string::npos;
  }));
}

TEST_F(Refusals, NoReleaseKey) {
  node_->stop();
  node_->write_config({"updater"}, "[plugins.updater]\nsource = \"" + server_->url("") + "\"\n");
  ASSERT_EQ(node_->start().exit, 0);
  pid_ = node_->daemon_pid();
  serve(fx().release());
  expect_refused("no release key");
  // --check still says what is published, and that it cannot be verified.
  auto c = node_->mesh_json({"update", "--check"});
  EXPECT_EQ(c.at("available").as_string(), fx().bumped);
  EXPECT_EQ(c.at("signed").as_bool(), false);
}

// A release of the bumped version broken in `spoil`, signed with the release key.
fs::path broken_release(const fs::path& dir, const std::string& name,
                        const std::function<void(const fs::path& tree)>& spoil) {
  const auto& f = fx();
  fs::path work = dir / (name + "-work");
  fs::create_directories(work);
  auto x = run({"tar", "-xzf", f.bumped_archive().string(), "-C", work.string()});
  EXPECT_EQ(x.exit, 0) << x.err;
  std::string top = "mesh-" + f.bumped + "-linux-" + f.arch;
  spoil(work / top);
  fs::path archive = dir / (name + "-pkg") / f.archive_name(f.bumped);
  fs::create_directories(archive.parent_path());
  auto t = run({"tar", "-czf", archive.string(), "-C", work.string(), top});
  EXPECT_EQ(t.exit, 0) << t.err;
  fs::path out = dir / name;
  auto r =
      run({MAKE_RELEASE, "--version", f.bumped, "--key", f.key("release", "key").string(), "--pub",
           f.key("release", "pub").string(), "--out", out.string(), "--archive", archive.string()});
  EXPECT_EQ(r.exit, 0) << r.err;
  return out;
}

TEST(Update, NewVersionFailingItsHealthCheckIsRolledBack) {
  const auto& f = fx();
  ASSERT_FALSE(f.bumped.empty());
  TempDir dir("update-health");
  fs::path no_plugin = broken_release(dir.path(), "bad-plugin", [](const fs::path& tree) {
    fs::path so = tree / "lib" / "mesh" / "plugins" / "replication.so";
    std::string bytes = slurp(so);
    bytes[bytes.size() / 2] ^= 0x55;  // its manifest's sha256 no longer matches
    spit(so, bytes);
  });
  fs::path exits = broken_release(dir.path(), "exits", [](const fs::path& tree) {
    spit(tree / "bin" / "mesh", "#!/bin/sh\nexit 3\n");
  });
  std::mutex mu;
  fs::path root = no_plugin;
  TestHttpServer server([&](int fd, const updater::test::HttpRequest& r) {
    fs::path now;
    {
      std::lock_guard lock(mu);
      now = root;
    }
    updater::test::static_files(now)(fd, r);
  });
  InstalledNode a(dir.path(), "alice");
  a.write_config({"replication", "updater"},
                 updater_toml(server.url(""), f.key_line(), "health_timeout_s = 20\n"));
  ASSERT_EQ(a.start().exit, 0);
  const std::string listen = a.listen();

  struct Case {
    fs::path release;
    std::string why;
  };
  for (const Case& c :
       {Case{no_plugin, "plugin replication is failed"}, Case{exits, "did not start"}}) {
    SCOPED_TRACE(c.why);
    {
      std::lock_guard lock(mu);
      root = c.release;
    }
    const int pid = a.daemon_pid();
    auto p = a.mesh({"update"});
    EXPECT_EQ(p.exit, 1) << p.out;
    EXPECT_NE(p.err.find("failed its health check and was rolled back to " + f.current),
              std::string::npos)
        << p.err;
    EXPECT_NE(p.err.find(c.why), std::string::npos) << p.err;
    // The old version runs again, on the same address, started by the watchdog.
    EXPECT_EQ(a.node("version"), f.current);
    EXPECT_EQ(a.node("listen"), listen);
    EXPECT_NE(a.daemon_pid(), pid);
    EXPECT_EQ(a.link("current"), "versions/" + f.current);
    EXPECT_FALSE(fs::exists(a.prefix() / "lib" / "mesh" / "versions" / f.bumped));
    EXPECT_EQ(last_result(a), "rolled_back");
    // Shown by --check and written to the log.
    auto check = a.mesh_json({"update", "--check"});
    EXPECT_EQ(check.at("last").at("result").as_string(), "rolled_back");
    EXPECT_TRUE(eventually([&] {
      return slurp(a.root() / "logs" / "mesh.log").find("was rolled back to " + f.current) !=
             std::string::npos;
    }));
  }
  // Nothing of the failed version counts for anti-rollback.
  EXPECT_EQ(slurp(a.data() / "highest.json").find(f.bumped), std::string::npos);
}

TEST(Update, RefusedOutsideAnInstalledLayout) {
  // The build tree's own binary: not <prefix>/lib/mesh/versions/<version>/bin/mesh.
  TempDir dir("update-buildtree");
  Node n(dir.path(), "solo");
  n.write_config({"updater"}, "[plugins.updater]\nrelease_key = \"" + fx().key_line() + "\"\n");
  ASSERT_EQ(n.start().exit, 0);
  auto p = n.mesh({"update"});
  EXPECT_EQ(p.exit, 1);
  EXPECT_NE(p.err.find("not <prefix>/lib/mesh/versions/<version>/bin/mesh"), std::string::npos)
      << p.err;
  EXPECT_EQ(n.stop().exit, 0);
}

}  // namespace
}  // namespace mesh::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  mesh::test::remove_installed_template();
  return rc;
}
