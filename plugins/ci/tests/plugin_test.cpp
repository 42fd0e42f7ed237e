// The ci plugin itself (the built .so, loaded with dlopen) on the SDK's FakeHost: settings
// refused before start, the verb, a push of this node's own making creating a run (and the
// push note for replication) while a relayed one does not, the records coming back through
// the subscription, the heartbeat part and the status section. Multi-node behaviour is the
// simulated mesh's (glue_*_test.cpp); the real host's, the integration tests'.
#include <dlfcn.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "ids.hpp"
#include "mesh/fake_host.hpp"
#include "sim_mesh.hpp"

namespace {
namespace json = boost::json;
using mesh::sdk::testing::FakeEvent;
using mesh::sdk::testing::FakeHost;
using namespace mesh::ci;

mesh_plugin_entry_fn entry() {
  static void* lib = ::dlopen(CI_SO, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  return reinterpret_cast<mesh_plugin_entry_fn>(::dlsym(lib, MESH_PLUGIN_ENTRY_SYMBOL));
}

const std::string kSelf = "mesh:" + std::string(52, 'a');
const std::string kPeer = "mesh:" + std::string(52, 'b');

struct Loaded {
  sim::TempDir dir;
  FakeHost host;
  sim::WorkRepo work{dir.path() / "work", "app"};
  explicit Loaded(const std::string& config = "{}") {
    host.set_config(config);
    host.set_self(R"({"name":"alice","id":")" + kSelf + R"("})");
    host.set_repos_dir((dir.path() / "repos").string());
  }
  std::string refs_event(const std::string& sha) {
    return json::serialize(json::object{
        {"repo", "app"},
        {"clock", 5},
        {"updates",
         json::array{json::object{
             {"ref", "refs/heads/main"}, {"old", std::string(40, '0')}, {"new", sha}}}}});
  }
  std::vector<FakeEvent> published(const std::string& topic) {
    std::vector<FakeEvent> out;
    for (auto& e : host.published()) {
      if (e.topic == topic) out.push_back(e);
    }
    return out;
  }
};

}  // namespace

TEST(CiPlugin, RefusesBadSettingsBeforeStart) {
  const mesh_plugin_descriptor* d = entry()(MESH_ABI_MAJOR, MESH_ABI_MINOR);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->check_config);
  char err[MESH_ERR_CAP] = {0};
  std::string ok = R"({"retention_days":7})";
  EXPECT_EQ(d->check_config(ok.data(), ok.size(), err, sizeof err), MESH_OK);
  std::string moved = R"({"enabled":true})";
  EXPECT_NE(d->check_config(moved.data(), moved.size(), err, sizeof err), MESH_OK);
  EXPECT_NE(std::string(err).find("enabled: the runner policy is the [runner] table"),
            std::string::npos)
      << err;
  std::string bad = R"({"retention_days":0})";
  EXPECT_NE(d->check_config(bad.data(), bad.size(), err, sizeof err), MESH_OK);
  EXPECT_EQ(std::string(err).rfind("retention_days:", 0), 0u) << err;
  Loaded p(R"({"nope":1})");
  EXPECT_NE(p.host.load(entry()), MESH_OK);
  EXPECT_NE(p.host.error().find("nope: unknown key"), std::string::npos) << p.host.error();
}

TEST(CiPlugin, AnOwnPushCreatesARunAndAnswersReplicationARelayedOneDoesNot) {
  Loaded p;
  ASSERT_EQ(p.host.load(entry()), MESH_OK) << p.host.error();
  auto verbs = p.host.verbs();
  ASSERT_EQ(verbs, std::vector<std::string>{"ci"});
  EXPECT_EQ(p.host.cli("ci", {"status"}).output, "no CI runs yet\n");
  EXPECT_EQ(p.host.cli("ci", {"bogus"}).exit_code, 2);

  std::string sha =
      p.work.commit({{".mesh/mesh-ci.yml", "jobs:\n  build: { commands: [\"make\"] }\n"}}, "c1");
  p.work.push_to(p.dir.path() / "repos");
  // Relayed from a member: nothing happens.
  p.host.inject({kPeer, "refs", p.refs_event(sha), 1, 1, 1});
  p.host.deliver();
  EXPECT_TRUE(p.published("ci").empty());
  // This node's own push (the FakeHost gives its own events an empty origin).
  auto wall = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  p.host.inject({"", "refs", p.refs_event(sha), 2, 2, wall - 1000});
  // An old one (the plugin was off when it happened) starts nothing either.
  p.host.inject({"", "refs", p.refs_event(sha), 3, 3, wall - 3600'000});
  p.host.deliver();
  auto records = p.published("ci");
  ASSERT_EQ(records.size(), 2u);  // run.created, then run.ended no-runner: nobody has runners
                                  // (and the old push made nothing)
  EXPECT_NE(records[0].payload.find("\"run.created\""), std::string::npos);
  EXPECT_NE(records[1].payload.find("\"no-runner\""), std::string::npos);
  json::object note;
  for (auto& e : p.published("local.push.note")) {
    auto o = json::parse(e.payload).as_object();
    if (o.contains("lines") && !o.at("lines").as_array().empty()) note = o;
  }
  ASSERT_TRUE(note.contains("lines"));
  EXPECT_EQ(note.at("clock").as_int64(), 5);
  std::string id = run_id("app", "refs/heads/main", sha, trigger_key_push());
  EXPECT_EQ(note.at("lines").as_array().at(0).as_string(),
            "CI run " + short_run_id(id) + " no-runner: no runner up for mode shell; 1 node up");
  // The records come back through the subscription and fold.
  p.host.deliver();
  auto st = p.host.cli("ci", {"status"}, true);
  ASSERT_EQ(st.exit_code, 0) << st.output;
  auto runs = json::parse(st.output).as_array();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].at("state").as_string(), "no-runner");
  EXPECT_EQ(runs[0].at("id").as_string(), id);
  // Ticks: the heartbeat part and the status section.
  p.host.advance(std::chrono::seconds(3));
  EXPECT_EQ(json::parse(p.host.heartbeat()).at("runners").as_array().size(), 0u);
  EXPECT_NE(p.host.status_json().find("\"ci\""), std::string::npos) << p.host.status_json();
  EXPECT_NE(p.host.status_text().find("this node runs no jobs"), std::string::npos);
  p.host.stop();
}
