// A real daemon on 127.0.0.1:0 with a temp root, driven by the real CLI and curl.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "harness.hpp"
#include "mesh/identity/identity.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

Proc curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::string http_status(const std::vector<std::string>& args) {
  std::vector<std::string> a{"-o", "/dev/null", "-w", "%{http_code}"};
  a.insert(a.end(), args.begin(), args.end());
  return curl(a).out;
}

std::string pin_of(const Node& n) {
  auto id = n.mesh_json({"id"});
  auto key = mesh::identity::parse_id(std::string(id.at("id").as_string()));
  EXPECT_TRUE(key);
  return key ? key->spki_pin() : "";
}

bool has_plugin(const json::value& list, const std::string& id, const std::string& state) {
  for (const auto& p : list.as_array()) {
    if (p.at("id").as_string() == id && p.at("state").as_string() == state) return true;
  }
  return false;
}

std::string plugin_error(const json::value& list, const std::string& id) {
  for (const auto& p : list.as_array()) {
    if (p.at("id").as_string() == id) return std::string(p.at("error").as_string());
  }
  return "<absent>";
}

}  // namespace

TEST(Daemon, InitIsIdempotentAndKeepsTheKey) {
  TempDir dir("init");
  Node a(dir.path(), "alice");
  auto first = a.mesh_json({"init"});
  auto second = a.mesh_json({"init", "--name", "other"});
  EXPECT_EQ(first.at("id"), second.at("id"));
  EXPECT_EQ(second.at("name").as_string(), "alice");  // an existing mesh.toml is kept
  struct stat st {};
  ASSERT_EQ(::stat((a.root() / "keys" / "node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(fs::exists(a.root() / "mesh.toml"));
  auto id = a.mesh({"id"});
  EXPECT_EQ(id.exit, 0);
  EXPECT_EQ(id.out, std::string(first.at("id").as_string()) + "\n");
}

TEST(Daemon, ServesPluginRouteAndVerbThenReloadRemovesThem) {
  TempDir dir("plugin");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"}, "[plugins.test-hello]\ngreeting = \"hi there\"\n");
  auto s = a.start();
  ASSERT_EQ(s.exit, 0) << s.err;
  ASSERT_GT(a.port(), 0);

  // status carries the real bound port and the identity.
  auto status = a.mesh_json({"status"});
  EXPECT_EQ(status.at("node").at("listen").as_string(), a.listen());
  EXPECT_EQ(status.at("node").at("id"), a.mesh_json({"id"}).at("id"));
  EXPECT_TRUE(has_plugin(status.at("plugins"), "test-hello", "running"));

  // The route over plain HTTP and over TLS; the TLS certificate's key is the node identity.
  auto plain = curl({a.http_url("/hello")});
  EXPECT_EQ(plain.exit, 0) << plain.err;
  EXPECT_NE(plain.out.find("hello from test-hello"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("hi there"), std::string::npos) << plain.out;
  auto tls = curl({"-k", "--pinnedpubkey", pin_of(a), a.https_url("/hello")});
  EXPECT_EQ(tls.exit, 0) << tls.err;
  EXPECT_NE(tls.out.find("hello from test-hello"), std::string::npos);
  auto other_pin = mesh::identity::Identity::generate().public_key().spki_pin();
  EXPECT_NE(curl({"-k", "--pinnedpubkey", other_pin, a.https_url("/hello")}).exit, 0);
  // TLS 1.2 is for certificate-less local clients (libgit2 on mbedTLS): it works, and gets a
  // certificate that the node's CA file verifies (a member certificate over TLS 1.2 is refused:
  // http_server_test).
  auto tls12 = curl({"--cacert", (a.root() / "tls" / "local-ca.pem").string(), "--tls-max", "1.2",
                     a.https_url("/hello")});
  EXPECT_EQ(tls12.exit, 0) << tls12.err;
  EXPECT_NE(tls12.out.find("hello from test-hello"), std::string::npos);

  // The verb through the real CLI, and it shows in help.
  auto verb = a.mesh({"hello", "x", "y"});
  EXPECT_EQ(verb.exit, 0) << verb.err;
  EXPECT_NE(verb.out.find("x y"), std::string::npos) << verb.out;
  auto help = a.mesh({"help"});
  EXPECT_NE(help.out.find("hello"), std::string::npos) << help.out;

  // Disable and reload: route and verb are gone, the daemon keeps running.
  a.write_config({});
  auto reload = a.mesh_json({"reload"});
  EXPECT_TRUE(reload.at("reloaded").as_bool());
  EXPECT_EQ(http_status({a.http_url("/hello")}), "404");
  auto gone = a.mesh({"hello"});
  EXPECT_EQ(gone.exit, 2);
  EXPECT_NE(gone.err.find("error: unknown command"), std::string::npos) << gone.err;
  auto plugins = a.mesh_json({"plugins"});
  EXPECT_FALSE(has_plugin(plugins, "test-hello", "running"));

  // Enable again: back.
  a.write_config({"test-hello"});
  a.mesh_json({"reload"});
  EXPECT_EQ(http_status({a.http_url("/hello")}), "200");

  auto stop = a.stop();
  EXPECT_EQ(stop.exit, 0) << stop.err;
  EXPECT_FALSE(process_alive(a.pid()));
  auto after = a.mesh({"status"});
  EXPECT_EQ(after.exit, 1);
  EXPECT_NE(after.err.find("error: the mesh daemon is not running (start it with: mesh start)"),
            std::string::npos)
      << after.err;
}

TEST(Daemon, BrokenPluginsAreRefusedClearlyAndTheDaemonKeepsRunning) {
  TempDir dir("broken");
  Node a(dir.path(), "alice");
  a.write_config({"broken-noentry", "broken-major", "broken-minor", "broken-create",
                  "broken-throws", "test-hello", "broken-dup", "no-such-plugin"});
  ASSERT_EQ(a.start().exit, 0);
  auto plugins = a.mesh_json({"plugins"});
  EXPECT_TRUE(has_plugin(plugins, "test-hello", "running"));
  for (const char* id : {"broken-noentry", "broken-major", "broken-minor", "broken-create",
                         "broken-throws", "broken-dup", "no-such-plugin"}) {
    EXPECT_TRUE(has_plugin(plugins, id, "failed")) << id;
    EXPECT_FALSE(plugin_error(plugins, id).empty()) << id;
  }
  EXPECT_NE(plugin_error(plugins, "broken-noentry").find("mesh_plugin_entry"), std::string::npos);
  EXPECT_NE(plugin_error(plugins, "broken-major").find("2."), std::string::npos)
      << plugin_error(plugins, "broken-major");
  EXPECT_NE(plugin_error(plugins, "broken-throws").find("exception"), std::string::npos)
      << plugin_error(plugins, "broken-throws");
  EXPECT_EQ(http_status({a.http_url("/hello")}), "200");
  auto table = a.mesh({"plugins"});
  EXPECT_NE(table.out.find("failed"), std::string::npos);
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Daemon, MalformedConfigFailsStartWithTheLine) {
  TempDir dir("badcfg");
  Node a(dir.path(), "alice");
  std::ofstream(a.root() / "mesh.toml") << "[node]\nname = \"a\"\n[http]\nlisten = = 3\n";
  auto s = a.start();
  EXPECT_EQ(s.exit, 1);
  EXPECT_NE(s.err.find("error: "), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("mesh.toml:4"), std::string::npos) << s.err;
  auto fg = a.mesh({"start"});  // foreground start fails the same way
  EXPECT_EQ(fg.exit, 1);
  EXPECT_NE(fg.err.find("mesh.toml:4"), std::string::npos) << fg.err;
}

TEST(Daemon, PortInUseSecondStartAndStaleFilesAreHandled) {
  TempDir dir("ports");
  // Hold a port.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::string busy = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));

  Node a(dir.path(), "alice");
  a.write_config({});
  auto taken = a.mesh({"start", "--detach", "--listen", busy});
  EXPECT_EQ(taken.exit, 1);
  EXPECT_NE(taken.err.find("error: "), std::string::npos);
  EXPECT_NE(taken.err.find("in use"), std::string::npos) << taken.err;
  ::close(fd);

  ASSERT_EQ(a.start().exit, 0);
  auto second = a.mesh({"start", "--detach"});
  EXPECT_EQ(second.exit, 1);
  EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
  EXPECT_TRUE(process_alive(a.pid()));

  // kill -9 leaves mesh.sock and mesh.pid behind; the next start copes.
  a.kill9();
  EXPECT_TRUE(fs::exists(a.root() / "mesh.sock"));
  auto status = a.mesh({"status"});
  EXPECT_EQ(status.exit, 1);
  EXPECT_NE(status.err.find("not running"), std::string::npos) << status.err;
  auto again = a.start();
  EXPECT_EQ(again.exit, 0) << again.err;
  EXPECT_EQ(a.mesh({"status"}).exit, 0);
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Daemon, TrustLoopbackOffRefusesClientsWithoutMemberCertificate) {
  TempDir dir("trust");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  { std::ofstream f(a.root() / "mesh.toml", std::ios::app); }
  // Rewrite with trust_loopback = false in [http].
  std::ifstream in(a.root() / "mesh.toml");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("[http]\n"), 7, "[http]\ntrust_loopback = false\n");
  std::ofstream(a.root() / "mesh.toml", std::ios::trunc) << text;
  ASSERT_EQ(a.start().exit, 0);
  EXPECT_EQ(http_status({a.http_url("/hello")}), "403");
  EXPECT_EQ(http_status({"-k", a.https_url("/hello")}), "403");
  // The CLI still works: the control socket is not HTTP.
  EXPECT_EQ(a.mesh({"status"}).exit, 0);
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Daemon, UsageErrorsExitTwo) {
  TempDir dir("usage");
  Node a(dir.path(), "alice");
  EXPECT_EQ(a.mesh({"status", "extra"}).exit, 2);
  EXPECT_EQ(a.mesh({"start", "--bogus"}).exit, 2);
  auto none = run({mesh_bin()});
  EXPECT_EQ(none.exit, 2);
  auto ver = run({mesh_bin(), "--version"});
  EXPECT_EQ(ver.exit, 0);
  EXPECT_EQ(ver.out.rfind("mesh ", 0), 0u);
  auto help = run({mesh_bin(), "help", "start"});
  EXPECT_EQ(help.exit, 0);
  EXPECT_NE(help.out.find("--detach"), std::string::npos);
  EXPECT_EQ(run({mesh_bin(), "start", "--help"}).exit, 0);
}
