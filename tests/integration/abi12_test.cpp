// ABI 1.2 end to end with real daemons and the test-hello plugin: a streamed echo through curl,
// a loopback-only route, peer connections between two paired members (mutual TLS, pinned
// key) and plugin values in heartbeats. Plugins built for ABI 1.0 still load.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "harness.hpp"
#include "mesh/identity/identity.hpp"

using namespace mesh::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Generous for sanitizer builds; heartbeats go out every 5 s.
constexpr auto kConverge = 45s;

Proc curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-sS", "--noproxy", "*", "--max-time", "120"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, std::chrono::seconds(150));
}

std::string http_status(const std::vector<std::string>& args) {
  std::vector<std::string> a{"-o", "/dev/null", "-w", "%{http_code}"};
  a.insert(a.end(), args.begin(), args.end());
  return curl(a).out;
}

std::string id_of(const Node& n) {
  return std::string(n.mesh_json({"id"}).at("id").as_string());
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The JSON under plugins.<plugin> of `peer` in n's `mesh peers --json`, or null.
json::value peer_plugin_value(const Node& n, const std::string& peer, const std::string& plugin) {
  auto p = n.mesh({"--json", "peers"});
  boost::system::error_code ec;
  auto doc = json::parse(p.out, ec);
  if (ec || !doc.is_array()) return nullptr;
  for (const auto& entry : doc.as_array()) {
    const auto& o = entry.as_object();
    if (o.at("name").as_string() != peer) continue;
    const auto* plugins = o.if_contains("plugins");
    if (!plugins || !plugins->is_object()) return nullptr;
    const auto* v = plugins->as_object().if_contains(plugin);
    return v ? *v : json::value(nullptr);
  }
  return nullptr;
}

// Whether n's `mesh peers --json` lists `peer` as up.
bool is_up(const Node& n, const std::string& peer) {
  auto p = n.mesh({"--json", "peers"});
  boost::system::error_code ec;
  auto doc = json::parse(p.out, ec);
  if (ec || !doc.is_array()) return false;
  for (const auto& entry : doc.as_array()) {
    if (entry.at("name").as_string() == peer && entry.at("state").as_string() == "up") return true;
  }
  return false;
}

bool has_plugin(const json::value& list, const std::string& id, const std::string& state) {
  for (const auto& p : list.as_array()) {
    if (p.at("id").as_string() == id && p.at("state").as_string() == state) return true;
  }
  return false;
}

struct Pair {
  TempDir dir{"abi12"};
  Node a{dir.path(), "alice"}, b{dir.path(), "bob"};

  Pair() {
    a.write_config({"test-hello"});
    b.write_config({"test-hello"});
  }
  // Starts both and has B join A; true once each lists the other as up.
  bool start_and_pair() {
    for (Node* n : {&a, &b}) {
      auto p = n->start();
      EXPECT_EQ(p.exit, 0) << n->name() << ": " << p.err;
      if (p.exit != 0) return false;
    }
    auto token = a.mesh_json({"invite"});
    if (!token.is_object()) return false;
    auto joined = b.mesh_json({"join", std::string(token.at("token").as_string())});
    if (!joined.is_object()) return false;
    return eventually([&] { return is_up(a, "bob") && is_up(b, "alice"); }, kConverge);
  }
};

}  // namespace

TEST(Abi12, StreamedEchoOfTenMebibytesIsByteIdentical) {
  TempDir dir("abi12-echo");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  ASSERT_EQ(a.start().exit, 0);

  std::string data(10u << 20, '\0');
  std::mt19937_64 rng(12345);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    std::uint64_t r = rng();
    std::memcpy(&data[i], &r, 8);
  }
  auto in = dir.path() / "in.bin";
  std::ofstream(in, std::ios::binary) << data;

  // Content-Length upload (no "Expect: 100-continue", so curl sends at once), then chunked.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"-H", "Expect:"},
        std::vector<std::string>{"-H", "Expect:", "-H", "Transfer-Encoding: chunked"}}) {
    auto out = dir.path() / "out.bin";
    fs::remove(out);
    std::vector<std::string> args{"-X",         "POST", "--data-binary", "@" + in.string(), "-o",
                                  out.string(), "-w",   "%{http_code}"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(a.http_url("/hello/echo"));
    auto r = curl(args);
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out, "200");
    auto echoed = read_file(out);
    EXPECT_EQ(echoed.size(), data.size());
    EXPECT_TRUE(echoed == data) << "the echo differs from what was sent";
  }
  // The daemon is still fine, and stopping with no stream open is quick.
  EXPECT_EQ(http_status({a.http_url("/hello")}), "200");
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Abi12, DisablingThePluginAbortsAStreamInProgress) {
  TempDir dir("abi12-abort");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  ASSERT_EQ(a.start().exit, 0);
  auto in = dir.path() / "in.bin";
  std::ofstream(in, std::ios::binary) << std::string(1u << 20, 'x');
  // A slow client: 1 MiB at 16 KiB/s would take a minute.
  Proc slow;
  std::thread client([&] {
    slow = curl({"-X", "POST", "-H", "Expect:", "--limit-rate", "16k", "--data-binary",
                 "@" + in.string(), "-o", "/dev/null", a.http_url("/hello/echo")});
  });
  std::this_thread::sleep_for(1500ms);
  a.write_config({});
  auto t0 = std::chrono::steady_clock::now();
  auto reload = a.mesh({"reload"});
  auto took = std::chrono::steady_clock::now() - t0;
  client.join();
  EXPECT_EQ(reload.exit, 0) << reload.err;
  EXPECT_LT(took, 10s) << "stopping the plugin waited for the client";
  EXPECT_NE(slow.exit, 0) << "the aborted response must not look complete";
  EXPECT_EQ(http_status({a.http_url("/hello")}), "404");
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Abi12, LocalRouteServesLoopbackClients) {
  TempDir dir("abi12-local");
  Node a(dir.path(), "alice");
  a.write_config({"test-hello"});
  ASSERT_EQ(a.start().exit, 0);
  auto plain = curl({a.http_url("/hello/local")});
  EXPECT_EQ(plain.exit, 0) << plain.err;
  EXPECT_EQ(plain.out, "local only\n");
  EXPECT_EQ(http_status({"-k", a.https_url("/hello/local")}), "200");  // TLS, no certificate
  EXPECT_EQ(a.stop().exit, 0);
}

TEST(Abi12, PeerConnectionsLocalRoutesAndHeartbeatValuesBetweenMembers) {
  Pair t;
  ASSERT_TRUE(t.start_and_pair()) << t.a.mesh({"peers"}).out << t.b.mesh({"peers"}).out;
  const std::string alice = id_of(t.a), bob = id_of(t.b);

  // B fetches A's /hello over a peer connection: mutual TLS with A's key pinned.
  auto got = t.b.mesh({"hello-peer", t.a.listen(), alice});
  EXPECT_EQ(got.exit, 0) << got.err;
  EXPECT_EQ(got.out.rfind("HTTP/1.1 200", 0), 0u) << got.out;
  EXPECT_NE(got.out.find("hello from test-hello"), std::string::npos) << got.out;
  // Any member will do without a pin.
  auto any = t.b.mesh({"hello-peer", t.a.listen(), "any"});
  EXPECT_EQ(any.exit, 0) << any.err;
  EXPECT_NE(any.out.find("hello from test-hello"), std::string::npos) << any.out;

  // A member pinned to someone else (B itself) and a stranger's id are both refused.
  auto wrong = t.b.mesh({"hello-peer", t.a.listen(), bob});
  EXPECT_EQ(wrong.exit, 1);
  EXPECT_NE(wrong.err.find("not the expected member"), std::string::npos) << wrong.err;
  auto stranger = mesh::identity::Identity::generate().id();
  auto refused = t.b.mesh({"hello-peer", t.a.listen(), stranger});
  EXPECT_EQ(refused.exit, 1);
  EXPECT_EQ(refused.out.find("HTTP/1.1"), std::string::npos) << refused.out;

  // Loopback-only routes refuse members, also those coming over a peer connection.
  auto local = t.b.mesh({"hello-peer", t.a.listen(), alice, "/hello/local"});
  EXPECT_EQ(local.exit, 0) << local.err;
  EXPECT_EQ(local.out.rfind("HTTP/1.1 403", 0), 0u) << local.out;
  EXPECT_EQ(http_status({t.a.http_url("/hello/local")}), "200");

  // A's plugin value reaches B with A's heartbeats.
  auto beat = t.a.mesh({"hello-beat", R"({"build":"green","n":3})"});
  EXPECT_EQ(beat.exit, 0) << beat.err;
  auto bad = t.a.mesh({"hello-beat", "{oops"});
  EXPECT_EQ(bad.exit, 1);
  json::value want = json::parse(R"({"build":"green","n":3})");
  EXPECT_TRUE(
      eventually([&] { return peer_plugin_value(t.b, "alice", "test-hello") == want; }, kConverge))
      << t.b.mesh({"--json", "peers"}).out;
  // Cleared: it disappears from the next heartbeats.
  EXPECT_EQ(t.a.mesh({"hello-beat", ""}).exit, 0);
  EXPECT_TRUE(eventually([&] { return peer_plugin_value(t.b, "alice", "test-hello").is_null(); },
                         kConverge))
      << t.b.mesh({"--json", "peers"}).out;

  EXPECT_EQ(t.a.stop().exit, 0);
  EXPECT_EQ(t.b.stop().exit, 0);
}

TEST(Abi12, PluginBuiltForAbi10StillLoads) {
  TempDir dir("abi12-legacy");
  Node a(dir.path(), "alice");
  a.write_config({"legacy-10", "test-hello"});
  ASSERT_EQ(a.start().exit, 0);
  auto plugins = a.mesh_json({"plugins"});
  EXPECT_TRUE(has_plugin(plugins, "legacy-10", "running")) << json::serialize(plugins);
  EXPECT_TRUE(has_plugin(plugins, "test-hello", "running")) << json::serialize(plugins);
  auto legacy = a.mesh({"legacy"});
  EXPECT_EQ(legacy.exit, 0) << legacy.err;
  EXPECT_EQ(legacy.out, "legacy 1.0 on host 1.3\n");
  EXPECT_EQ(a.stop().exit, 0);
}
