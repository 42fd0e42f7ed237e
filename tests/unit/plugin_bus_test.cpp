// The plugin host's event hand-off (ABI 1.1) against a fake in-memory EventBus: publish from a
// plugin verb, delivery from the bus's thread to the plugin's handler on the executor and the
// verdict back, timeouts, namespacing, limits, stop, and a plugin built for ABI 1.0. The real
// gossip engine behind the bus is tested in its own module.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "mesh/plugin/manager.hpp"

#ifndef MESH_TEST_PLUGIN_DIR
#error "MESH_TEST_PLUGIN_DIR must point at the built test plugins"
#endif

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace mesh::plugin {
namespace {

class FakeBus : public EventBus {
 public:
  using Handler = std::function<bool(const BusEvent&)>;
  struct Sub {
    std::string pattern;
    Handler handler;
  };

  Result<std::uint64_t> publish(std::string_view topic, std::string_view payload) override {
    std::lock_guard lock(mu_);
    published_.emplace_back(std::string(topic), std::string(payload));
    if (topic.ends_with(".live")) return std::uint64_t{0};
    return ++seq_;
  }
  Status subscribe(std::string name, std::string pattern, Handler handler) override {
    std::lock_guard lock(mu_);
    if (subs_.count(name)) return make_error(Errc::exists, "cursor " + name + " is in use");
    subs_[name] = Sub{std::move(pattern), std::move(handler)};
    return {};
  }
  void unsubscribe(const std::string& name) override {
    std::lock_guard lock(mu_);
    subs_.erase(name);
    unsubscribed_.push_back(name);
  }
  std::string peers_json() const override { return "[]"; }
  std::string self_json() const override { return R"({"name":"a","id":"mesh:aaa"})"; }

  std::optional<Sub> sub(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = subs_.find(name);
    if (it == subs_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t sub_count() const {
    std::lock_guard lock(mu_);
    return subs_.size();
  }
  std::vector<std::pair<std::string, std::string>> published() const {
    std::lock_guard lock(mu_);
    return published_;
  }
  std::vector<std::string> unsubscribed() const {
    std::lock_guard lock(mu_);
    return unsubscribed_;
  }

  // Calls a handler from a thread of its own, as the engine's delivery thread would.
  static bool call(const Handler& h, const BusEvent& ev) {
    bool verdict = false;
    std::thread t([&] { verdict = h(ev); });
    t.join();
    return verdict;
  }
  std::optional<bool> deliver(const std::string& name, const BusEvent& ev) {
    auto s = sub(name);
    if (!s) return std::nullopt;
    return call(s->handler, ev);
  }

 private:
  mutable std::mutex mu_;
  std::uint64_t seq_ = 0;
  std::map<std::string, Sub> subs_;
  std::vector<std::pair<std::string, std::string>> published_;
  std::vector<std::string> unsubscribed_;
};

BusEvent event(std::uint64_t seq, std::string_view payload, std::string origin = "mesh:aaa") {
  return BusEvent{std::move(origin),       seq,          seq + 100,
                  1'700'000'000'000 + seq, "test.hello", payload};
}

constexpr const char* kSeen = "plugin.test-hello.seen";

class PluginBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mesh-plugin-bus-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    io_thread_ = std::thread([this] { io_.run(); });
    make_manager(bus_, 10s);
  }

  void TearDown() override {
    manager_.reset();
    work_.reset();
    io_thread_.join();
    fs::remove_all(root_);
  }

  void make_manager(std::shared_ptr<EventBus> bus, std::chrono::milliseconds timeout) {
    manager_.reset();
    HostServices s{io_, router_, verbs_, root_ / "data", {fs::path(MESH_TEST_PLUGIN_DIR)}, 2};
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
    return PluginInfo{id, "", "", false, "absent", ""};
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
    if (f.wait_for(5s) != std::future_status::ready) return {-1, "timeout"};
    return f.get();
  }

  std::string seen() { return cli("hello-seen", {}).output; }

  fs::path root_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread io_thread_;
  std::shared_ptr<http::Router> router_ = std::make_shared<http::Router>();
  std::shared_ptr<control::Registry> verbs_ = std::make_shared<control::Registry>();
  std::shared_ptr<FakeBus> bus_ = std::make_shared<FakeBus>();
  std::unique_ptr<Manager> manager_;
};

TEST_F(PluginBusTest, PublishFromAVerbReachesTheBus) {
  start_hello();
  auto r = cli("hello-publish", {"3"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "published 3 events on test.hello (seq 1..3)\n");
  r = cli("hello-publish", {"1", "ci.run.live"});
  EXPECT_EQ(r.output, "published 1 events on ci.run.live (seq 0..0)\n");
  std::vector<std::pair<std::string, std::string>> want = {{"test.hello", "event-1"},
                                                           {"test.hello", "event-2"},
                                                           {"test.hello", "event-3"},
                                                           {"ci.run.live", "event-1"}};
  EXPECT_EQ(bus_->published(), want);

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
  EXPECT_EQ(bus_->published().size(), 6u);
}

TEST_F(PluginBusTest, SubscriptionIsNamespacedAndDeliversOnTheExecutor) {
  start_hello();
  auto s = bus_->sub(kSeen);
  ASSERT_TRUE(s) << "test-hello's 'seen' subscription is not on the bus under " << kSeen;
  EXPECT_EQ(s->pattern, "test.hello");
  EXPECT_EQ(bus_->sub_count(), 1u);

  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    std::string payload = "event-" + std::to_string(seq);
    EXPECT_EQ(bus_->deliver(kSeen, event(seq, payload)), true);
  }
  // An ephemeral event (seq 0) reaches the handler too.
  EXPECT_EQ(bus_->deliver(kSeen, event(0, "live", "mesh:bbb")), true);
  // The handler had finished (and fsync'd) before the bus got its verdict.
  EXPECT_EQ(seen(),
            "mesh:aaa 1 event-1\nmesh:aaa 2 event-2\nmesh:aaa 3 event-3\nmesh:bbb 0 live\n");
}

TEST_F(PluginBusTest, RefusedEventYieldsFalseAndIsHandledOnRedelivery) {
  start_hello();
  auto refuse = root_ / "data" / "test-hello" / "refuse";
  std::ofstream(refuse).put('x');
  EXPECT_EQ(bus_->deliver(kSeen, event(1, "retry-me")), false);
  EXPECT_EQ(seen(), "");
  fs::remove(refuse);
  EXPECT_EQ(bus_->deliver(kSeen, event(1, "retry-me")), true);
  EXPECT_EQ(seen(), "mesh:aaa 1 retry-me\n");
}

TEST_F(PluginBusTest, SlowHandlerTimesOutWithoutRunningTwice) {
  make_manager(bus_, 100ms);
  start_hello();
  auto s = bus_->sub(kSeen);
  ASSERT_TRUE(s);
  // The handler sleeps 600 ms on the executor; the bus's thread gives up after 100 ms, which
  // also shows the handler does not run on the bus's thread.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(FakeBus::call(s->handler, event(1, "slow-600")));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  // While it still runs, the subscription answers "later" to everything.
  EXPECT_FALSE(FakeBus::call(s->handler, event(1, "slow-600")));
  EXPECT_FALSE(FakeBus::call(s->handler, event(2, "event-2")));
  // Once it finished, the redelivered event is acknowledged from its late verdict, not rerun.
  std::string lines;
  for (int i = 0; i < 100 && lines.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    lines = seen();
  }
  EXPECT_EQ(lines, "mesh:aaa 1 slow-600\n");
  // The line is written before the handler returns, so the verdict may still be pending: offer
  // the event until it is acknowledged (a busy machine can take a while) — it must never rerun.
  bool acked = false;
  for (int i = 0; i < 250 && !acked; ++i) {
    acked = FakeBus::call(s->handler, event(1, "slow-600"));
    if (!acked) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(acked);
  EXPECT_EQ(seen(), "mesh:aaa 1 slow-600\n");
  EXPECT_TRUE(FakeBus::call(s->handler, event(2, "event-2")));
  EXPECT_EQ(seen(), "mesh:aaa 1 slow-600\nmesh:aaa 2 event-2\n");
}

TEST_F(PluginBusTest, StopUnsubscribesAndKeepsTheCursorName) {
  start_hello();
  EXPECT_EQ(cli("hello-sub", {"extra", "*"}).output, "0\n");
  auto s = bus_->sub(kSeen);
  ASSERT_TRUE(s);
  EXPECT_EQ(bus_->sub_count(), 2u);

  manager_->apply(enable({}));
  EXPECT_EQ(bus_->sub_count(), 0u);
  auto gone = bus_->unsubscribed();
  std::sort(gone.begin(), gone.end());
  EXPECT_EQ(gone, (std::vector<std::string>{"plugin.test-hello.extra", kSeen}));
  // A delivery that was already on its way is answered "later": the cursor stays put.
  EXPECT_FALSE(FakeBus::call(s->handler, event(1, "event-1")));
  EXPECT_FALSE(fs::exists(root_ / "data" / "test-hello" / "seen.log"));

  // Enabled again: the same cursor name, so delivery resumes where it stopped.
  start_hello();
  EXPECT_EQ(bus_->deliver(kSeen, event(1, "event-1")), true);
  EXPECT_EQ(seen(), "mesh:aaa 1 event-1\n");
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
  EXPECT_EQ(bus_->sub("plugin.test-hello.ci")->pattern, "ci");
  // A long name gets a hashed cursor name, still in the topic grammar.
  std::string long_name(48, 'n');
  EXPECT_EQ(code(long_name, "*"), "0");
  EXPECT_TRUE(bus_->sub(bus_subscription_name("test-hello", long_name)));

  EXPECT_EQ(cli("hello-unsub", {"ci"}).output, "0\n");
  EXPECT_EQ(cli("hello-unsub", {"ci"}).output, "-2\n");  // MESH_E_NOT_FOUND
  EXPECT_FALSE(bus_->sub("plugin.test-hello.ci"));
  EXPECT_EQ(code("ci", "ci"), "0");  // the name is free again

  // 64 per plugin: seen, the long one and ci are 3.
  for (int i = 0; i < 61; ++i) ASSERT_EQ(code("s" + std::to_string(i), "*"), "0") << i;
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
  start_hello();  // the plugin tolerates MESH_E_UNSUPPORTED for its subscription
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
  EXPECT_EQ(cli("legacy", {}).output, "legacy 1.0 on host 1.2\n");
  EXPECT_EQ(info("test-hello").abi, "1.2");
  manager_->apply(enable({"test-hello"}));
  EXPECT_EQ(info("legacy-10").state, "stopped");
}

}  // namespace
}  // namespace mesh::plugin
