// The plugin host's event hand-off (ABI 1.1) over the real gossip engine in memory (a temporary
// root, no links) through the daemon's own EventBus adapter: publish from a plugin verb,
// delivery to the plugin's handler on its executor and the verdict back, refusals, timeouts,
// namespacing, limits, stop, and a plugin built for ABI 1.0. The bus is only wrapped to record
// which subscriptions the host makes; topics, seqs and delivery are the engine's.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "mesh/app/event_bus.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/identity/identity.hpp"
#include "mesh/plugin/manager.hpp"

#ifndef MESH_TEST_PLUGIN_DIR
#error "MESH_TEST_PLUGIN_DIR must point at the built test plugins"
#endif

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace mesh::plugin {
namespace {

// The real bus, plus a record of the subscriptions made through it.
class RecordingBus : public EventBus {
 public:
  explicit RecordingBus(std::shared_ptr<EventBus> real) : real_(std::move(real)) {}

  Result<std::uint64_t> publish(std::string_view topic, std::string_view payload) override {
    return real_->publish(topic, payload);
  }
  Status subscribe(std::string name, std::string pattern,
                   std::function<bool(const BusEvent&)> handler) override {
    auto st = real_->subscribe(name, pattern, std::move(handler));
    if (st) {
      std::lock_guard lock(mu_);
      subs_[name] = pattern;
    }
    return st;
  }
  void unsubscribe(const std::string& name) override {
    real_->unsubscribe(name);
    std::lock_guard lock(mu_);
    subs_.erase(name);
    unsubscribed_.push_back(name);
  }
  std::string peers_json() const override { return real_->peers_json(); }
  std::string self_json() const override { return real_->self_json(); }

  std::optional<std::string> pattern(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = subs_.find(name);
    return it == subs_.end() ? std::nullopt : std::optional(it->second);
  }
  std::size_t sub_count() const {
    std::lock_guard lock(mu_);
    return subs_.size();
  }
  std::vector<std::string> unsubscribed() const {
    std::lock_guard lock(mu_);
    return unsubscribed_;
  }

 private:
  std::shared_ptr<EventBus> real_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> subs_;
  std::vector<std::string> unsubscribed_;
};

// What a subscriber of the engine itself received, to compare with the plugin's view.
struct Probe {
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, std::uint64_t>> events;  // topic, payload, seq
  gossip::Engine::Handler handler() {
    return [this](const gossip::Event& e) {
      std::lock_guard lock(mu);
      events.emplace_back(e.topic, std::string(e.payload.begin(), e.payload.end()), e.seq);
      return true;
    };
  }
  bool has(std::string_view payload) {
    std::lock_guard lock(mu);
    for (const auto& [t, p, s] : events)
      if (p == payload) return true;
    return false;
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return events.size();
  }
};

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

constexpr const char* kSeen = "plugin.test-hello.seen";

class PluginBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mesh-plugin-bus-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "node");
    gossip::EngineOptions o;
    o.root = root_ / "node";
    o.self = &id_;
    o.self_name = "alice";
    auto e = gossip::Engine::open(std::move(o));
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    bus_ = std::make_shared<RecordingBus>(app::make_event_bus(
        *engine_, [] { return std::string("[]"); },
        [this] { return R"({"name":"alice","id":")" + id_.id() + "\"}"; }));
    io_thread_ = std::thread([this] { io_.run(); });
    make_manager(bus_, 10s);
  }

  void TearDown() override {
    manager_.reset();
    work_.reset();
    io_thread_.join();
    if (engine_) engine_->stop();
    engine_.reset();
    fs::remove_all(root_);
  }

  void make_manager(std::shared_ptr<EventBus> bus, std::chrono::milliseconds timeout) {
    manager_.reset();
    HostServices s{io_, router_, verbs_, root_ / "data", {}, {fs::path(MESH_TEST_PLUGIN_DIR)}};
    s.bus = std::move(bus);
    s.event_handler_timeout = timeout;
    manager_ = std::make_unique<Manager>(std::move(s));
  }

  static config::PluginsConfig enable(std::vector<std::string> ids) {
    config::PluginsConfig c;
    c.enabled = std::move(ids);
    return c;
  }

  PluginInfo info(const std::string& id) const {
    for (const auto& i : manager_->list())
      if (i.id == id) return i;
    PluginInfo absent;
    absent.id = id;
    absent.state = "absent";
    return absent;
  }

  void start_hello() {
    manager_->apply(enable({"test-hello"}));
    ASSERT_EQ(info("test-hello").state, "running") << info("test-hello").error;
  }

  control::Reply cli(const std::string& verb, std::vector<std::string> args) {
    auto done = std::make_shared<std::promise<control::Reply>>();
    auto f = done->get_future();
    control::Responder r;
    r.reply = [done](control::Reply reply) { done->set_value(std::move(reply)); };
    verbs_->dispatch(control::Call{verb, std::move(args), false}, std::move(r));
    if (f.wait_for(10s) != std::future_status::ready) return {-1, "timeout"};
    return f.get();
  }

  std::uint64_t publish(std::string_view topic, std::string_view payload) {
    auto e = engine_->publish(topic, as_bytes(payload));
    EXPECT_TRUE(e) << e.error().message;
    return e ? e->seq : 0;
  }

  fs::path data(const std::string& file) const { return root_ / "data" / "test-hello" / file; }
  std::string seen() const { return read_file(data("seen.log")); }
  // The seen.log line of one of this node's events.
  std::string line(std::uint64_t seq, std::string_view payload) const {
    return id_.id() + " " + std::to_string(seq) + " " + std::string(payload) + "\n";
  }

  fs::path root_;
  identity::Identity id_ = identity::Identity::generate();
  std::unique_ptr<gossip::Engine> engine_;
  std::shared_ptr<RecordingBus> bus_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread io_thread_;
  std::shared_ptr<http::Router> router_ = std::make_shared<http::Router>();
  std::shared_ptr<control::Registry> verbs_ = std::make_shared<control::Registry>();
  std::unique_ptr<Manager> manager_;
};

TEST_F(PluginBusTest, PublishFromAVerbReachesTheEngine) {
  start_hello();
  Probe probe;
  ASSERT_TRUE(engine_->subscribe("probe", "*", probe.handler()));
  auto r = cli("hello-publish", {"3"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "published 3 events on test.hello (seq 1..3)\n");
  // The engine's own rule says what is stored: live and local topics get no seq.
  for (std::string unstored : {"ci.run.live", "presence", "local.note"}) {
    r = cli("hello-publish", {"1", unstored});
    EXPECT_EQ(r.output, "published 1 events on " + unstored + " (seq 0..0)\n");
  }
  r = cli("hello-publish", {"1", "test.after"});
  EXPECT_EQ(r.output, "published 1 events on test.after (seq 4..4)\n");  // nothing in between
  ASSERT_TRUE(eventually([&] { return probe.size() >= 7; }));
  {
    std::lock_guard lock(probe.mu);
    std::map<std::string, std::size_t> topics;
    for (const auto& [t, p, s] : probe.events) ++topics[t];
    EXPECT_EQ(topics, (std::map<std::string, std::size_t>{{"ci.run.live", 1},
                                                          {"local.note", 1},
                                                          {"presence", 1},
                                                          {"test.after", 1},
                                                          {"test.hello", 3}}));
  }

  // The host checks the grammar and keeps the core's own topics to itself.
  for (const std::string& bad :
       std::vector<std::string>{"Bad", "9x", "a b", std::string(65, 'a')}) {
    r = cli("hello-publish", {"1", bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.output.find("code -1"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("invalid topic"), std::string::npos) << r.output;
  }
  for (const std::string& reserved :
       std::vector<std::string>{"roster", "roster.admit", "heartbeat"}) {
    r = cli("hello-publish", {"1", reserved});
    EXPECT_EQ(r.exit_code, 1) << reserved;
    EXPECT_NE(r.output.find("reserved to the daemon"), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli("hello-publish", {"1", std::string(64, 'a')}).exit_code, 0);
  EXPECT_EQ(cli("hello-publish", {"1", "rosters"}).exit_code, 0);  // only the family is reserved
  engine_->unsubscribe("probe");  // before `probe` goes away: returns once its handler did
}

TEST_F(PluginBusTest, SubscriptionIsNamespacedAndDeliversOnTheExecutor) {
  start_hello();
  ASSERT_EQ(bus_->pattern(kSeen), "test.hello")
      << "test-hello's 'seen' subscription is not on the bus under " << kSeen;
  EXPECT_EQ(bus_->pattern("plugin.test-hello.local"), "local");
  EXPECT_EQ(bus_->sub_count(), 2u);
  // The engine knows it under that name.
  EXPECT_EQ(engine_->subscribe(kSeen, "*", [](const gossip::Event&) { return true; }).error().code,
            Errc::exists);

  for (int i = 1; i <= 3; ++i) publish("test.hello", "event-" + std::to_string(i));
  // A live event reaches the handler too, with seq 0 (the engine's seq stays its own).
  publish("test.hello.live", "live");
  ASSERT_TRUE(eventually([&] { return lines_in(seen()) >= 4; })) << seen();
  auto text = seen();
  // Stored events in seq order (the live one may come anywhere between them).
  auto at1 = text.find(line(1, "event-1")), at2 = text.find(line(2, "event-2")),
       at3 = text.find(line(3, "event-3"));
  ASSERT_NE(at3, std::string::npos) << text;
  EXPECT_TRUE(at1 < at2 && at2 < at3) << text;
  EXPECT_NE(text.find(line(0, "live")), std::string::npos) << text;
  EXPECT_EQ(lines_in(text), 4u) << text;
}

TEST_F(PluginBusTest, RefusedEventIsOfferedAgainAndHandledOnce) {
  start_hello();
  std::ofstream(data("refuse")).put('x');
  auto seq = publish("test.hello", "retry-me");
  // Refused at least once: the handler said "not yet" and nothing was recorded as seen.
  ASSERT_TRUE(eventually([&] { return !read_file(data("refused.log")).empty(); }));
  EXPECT_EQ(seen(), "");
  fs::remove(data("refuse"));
  // The engine offers it again (about a second later), and the later event waits behind it.
  publish("test.hello", "after");
  ASSERT_TRUE(eventually([&] { return seen().find("after") != std::string::npos; }));
  EXPECT_EQ(seen(), line(seq, "retry-me") + line(seq + 1, "after"));
}

TEST_F(PluginBusTest, SlowHandlerTimesOutIsStalledAndRunsOnce) {
  make_manager(bus_, 100ms);
  start_hello();
  // The handler sleeps 1.5 s on the plugin's executor; the subscription's delivery thread gives
  // up after 100 ms and the subscription shows as stalled until the handler returns.
  auto seq = publish("test.hello", "slow-1500");
  ASSERT_TRUE(eventually([&] {
    return info("test-hello").stalled == std::vector<std::string>{"seen"};
  })) << "the slow handler was never reported stalled";
  // Meanwhile the plugin's other subscription is served.
  publish("local.ping", "while-slow");
  ASSERT_TRUE(eventually(
      [&] { return read_file(data("local.log")).find("while-slow") != std::string::npos; }));
  EXPECT_EQ(seen(), "") << "the slow handler returned early";
  // Once it finished, the redelivered event is acknowledged from its late verdict, not rerun:
  // a later event of the same origin, handled after it, proves the first was acknowledged.
  publish("test.hello", "event-2");
  ASSERT_TRUE(eventually([&] { return seen().find("event-2") != std::string::npos; }));
  EXPECT_EQ(seen(), line(seq, "slow-1500") + line(seq + 1, "event-2"));
  EXPECT_TRUE(info("test-hello").stalled.empty());
}

TEST_F(PluginBusTest, StopUnsubscribesAndKeepsTheCursor) {
  start_hello();
  EXPECT_EQ(cli("hello-sub", {"extra", "*"}).output, "0\n");
  EXPECT_EQ(bus_->sub_count(), 3u);
  auto first = publish("test.hello", "event-1");
  ASSERT_TRUE(eventually([&] { return seen() == line(first, "event-1"); }));

  manager_->apply(enable({}));
  EXPECT_EQ(bus_->sub_count(), 0u);
  auto gone = bus_->unsubscribed();
  std::sort(gone.begin(), gone.end());
  EXPECT_EQ(gone, (std::vector<std::string>{"plugin.test-hello.extra", "plugin.test-hello.local",
                                            kSeen}));
  // The engine has let go of the names.
  auto st = engine_->subscribe(kSeen, "*", [](const gossip::Event&) { return false; });
  EXPECT_TRUE(st) << st.error().message;
  engine_->unsubscribe(kSeen);

  // Published while the plugin is stopped: kept for it by the cursor.
  auto while_stopped = publish("test.hello", "event-2");
  start_hello();
  auto sentinel = publish("test.hello", "event-3");
  ASSERT_TRUE(eventually([&] { return seen().find("event-3") != std::string::npos; }));
  EXPECT_EQ(seen(),
            line(first, "event-1") + line(while_stopped, "event-2") + line(sentinel, "event-3"));
}

TEST_F(PluginBusTest, SubscribeValidatesNamesPatternsAndLimits) {
  start_hello();
  auto sub = [&](const std::string& name, const std::string& pattern) {
    return cli("hello-sub", {name, pattern}).output;
  };
  auto code = [&](const std::string& name, const std::string& pattern) {
    auto out = sub(name, pattern);
    return out.substr(0, out.find_first_of(" \n"));
  };
  EXPECT_EQ(code("seen", "*"), "-3");  // MESH_E_EXISTS: the plugin's own
  EXPECT_EQ(code("Bad", "*"), "-1");
  EXPECT_EQ(code(".x", "*"), "-1");
  EXPECT_EQ(code(std::string(49, 'a'), "*"), "-1");
  EXPECT_EQ(code("ok", "ci.*"), "-1");
  EXPECT_EQ(code("ok", "Ci"), "-1");
  EXPECT_NE(sub("ok", "").find("invalid topic pattern"), std::string::npos);
  EXPECT_EQ(code("ci", "ci"), "0");
  EXPECT_EQ(bus_->pattern("plugin.test-hello.ci"), "ci");
  // A long name gets a hashed cursor name, still in the topic grammar.
  std::string long_name(48, 'n');
  EXPECT_EQ(code(long_name, "*"), "0");
  EXPECT_TRUE(bus_->pattern(bus_subscription_name("test-hello", long_name)));

  EXPECT_EQ(cli("hello-unsub", {"ci"}).output, "0\n");
  EXPECT_EQ(cli("hello-unsub", {"ci"}).output, "-2\n");  // MESH_E_NOT_FOUND
  EXPECT_FALSE(bus_->pattern("plugin.test-hello.ci"));
  EXPECT_EQ(code("ci", "ci"), "0");  // the name is free again

  // 64 per plugin: seen, local, the long one and ci are 4.
  for (int i = 0; i < 60; ++i) ASSERT_EQ(code("s" + std::to_string(i), "*"), "0") << i;
  EXPECT_EQ(code("one-too-many", "*"), "-4");  // MESH_E_LIMIT
  EXPECT_EQ(bus_->sub_count(), 64u);
}

TEST_F(PluginBusTest, SubscriptionNames) {
  EXPECT_EQ(bus_subscription_name("test-hello", "seen"), "plugin.test-hello.seen");
  EXPECT_EQ(bus_subscription_name("ci", "runs.v2"), "plugin.ci.runs.v2");
  std::string id(64, 'x');
  auto a = bus_subscription_name(id, "seen");
  auto b = bus_subscription_name(id, "seem");
  EXPECT_EQ(a.size(), 23u);
  EXPECT_EQ(a.substr(0, 7), "plugin.");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, bus_subscription_name(id, "seen"));  // stable: it names a persisted cursor
  // Pinned: the hash must never change, or long-named cursors would restart from zero.
  EXPECT_EQ(bus_subscription_name(std::string(60, 'p'), "seen"), "plugin.63803e94c00cd335");
  for (const auto& n : {a, b})
    for (char c : n.substr(7)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << n;
}

TEST_F(PluginBusTest, WithoutABusEventsAreUnsupported) {
  make_manager(nullptr, 10s);
  start_hello();  // the plugin tolerates MESH_E_UNSUPPORTED for its subscriptions
  auto r = cli("hello-publish", {"1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("code -6"), std::string::npos) << r.output;
  EXPECT_EQ(cli("hello-sub", {"x", "*"}).output.substr(0, 3), "-6 ");
}

TEST_F(PluginBusTest, PluginBuiltForAbi10StillLoads) {
  manager_->apply(enable({"legacy-10", "test-hello"}));
  auto i = info("legacy-10");
  ASSERT_EQ(i.state, "running") << i.error;
  EXPECT_EQ(i.abi, "1.0");
  EXPECT_EQ(cli("legacy", {}).output, "legacy 1.0 on host 1.3\n");
  EXPECT_EQ(info("test-hello").abi, "1.3");
  manager_->apply(enable({"test-hello"}));
  EXPECT_EQ(info("legacy-10").state, "stopped");
}

}  // namespace
}  // namespace mesh::plugin
