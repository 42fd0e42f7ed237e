// The plugin Manager with a real Router and control::Registry, against the test plugins built by
// tests/plugins (MESH_TEST_PLUGIN_DIR): loading, serving, reload, and every refusal.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <variant>

#include "mesh/plugin/manager.hpp"

#ifndef MESH_TEST_PLUGIN_DIR
#error "MESH_TEST_PLUGIN_DIR must point at the built test plugins"
#endif

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace mesh::plugin {
namespace {

struct CliResult {
  control::Reply reply;
  std::vector<std::string> chunks;
};

class PluginManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("mesh-plugin-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    io_thread_ = std::thread([this] { io_.run(); });
    manager_ = std::make_unique<Manager>(
        HostServices{io_, router_, verbs_, root_ / "data", {}, {fs::path(MESH_TEST_PLUGIN_DIR)}});
  }

  void TearDown() override {
    manager_.reset();
    work_.reset();
    io_thread_.join();
    fs::remove_all(root_);
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

  // Starts a request through the router; the future resolves when it is answered.
  std::optional<std::future<http::Response>> start_get(const std::string& path) {
    auto found = router_->find("GET", path);
    if (!std::holds_alternative<http::Router::Match>(found)) return std::nullopt;
    auto promise = std::make_shared<std::promise<http::Response>>();
    auto future = promise->get_future();
    http::Request req;
    req.method = "GET";
    req.target = path;
    req.path = path;
    req.remote = "127.0.0.1:40000";
    req.loopback = true;
    std::get<http::Router::Match>(found).handler(
        std::move(req), [promise](http::Response r) { promise->set_value(std::move(r)); });
    return future;
  }

  http::Response get(const std::string& path) {
    auto f = start_get(path);
    if (!f) return http::Response{404, {}, "no route"};
    if (f->wait_for(5s) != std::future_status::ready) return http::Response{0, {}, "timeout"};
    return f->get();
  }

  struct PendingCli {
    std::shared_ptr<CliResult> result = std::make_shared<CliResult>();
    std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
    std::shared_ptr<std::promise<void>> first_chunk = std::make_shared<std::promise<void>>();
  };

  PendingCli start_cli(const std::string& verb, std::vector<std::string> args, bool json = false) {
    PendingCli p;
    control::Responder r;
    r.chunk = [p](std::string text) {
      bool first = p.result->chunks.empty();
      p.result->chunks.push_back(std::move(text));
      if (first) p.first_chunk->set_value();
    };
    r.reply = [p](control::Reply reply) {
      p.result->reply = std::move(reply);
      p.done->set_value();
    };
    verbs_->dispatch(control::Call{verb, std::move(args), json}, std::move(r));
    return p;
  }

  control::Reply cli(const std::string& verb, std::vector<std::string> args, bool json = false) {
    auto p = start_cli(verb, std::move(args), json);
    if (p.done->get_future().wait_for(5s) != std::future_status::ready) return {-1, "timeout"};
    return p.result->reply;
  }

  // Copies test-hello's .so into a directory of its own with a manifest changed by `edit`.
  fs::path tampered_copy(const std::function<void(std::string&)>& edit) {
    auto dir = root_ / ("tampered" + std::to_string(++copies_));
    fs::create_directories(dir);
    fs::copy_file(fs::path(MESH_TEST_PLUGIN_DIR) / "test-hello.so", dir / "test-hello.so");
    std::ifstream in(fs::path(MESH_TEST_PLUGIN_DIR) / "test-hello.json");
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    edit(json);
    std::ofstream(dir / "test-hello.json") << json;
    return dir;
  }

  static void replace(std::string& s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    s.replace(pos, from.size(), to);
  }

  fs::path root_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread io_thread_;
  std::shared_ptr<http::Router> router_ = std::make_shared<http::Router>();
  std::shared_ptr<control::Registry> verbs_ = std::make_shared<control::Registry>();
  std::unique_ptr<Manager> manager_;
  int copies_ = 0;
};

TEST_F(PluginManagerTest, LoadsHelloAndServesRouteVerbAndTimer) {
  auto cfg = enable({"test-hello"});
  cfg.settings["test-hello"] = R"({"greeting":"hi there"})";
  manager_->apply(cfg);

  auto i = info("test-hello");
  EXPECT_EQ(i.state, "running") << i.error;
  EXPECT_TRUE(i.enabled);
  EXPECT_EQ(i.version, "1.0.0");
  EXPECT_EQ(i.abi, "1.3");
  EXPECT_TRUE(fs::is_directory(root_ / "data" / "test-hello"));
  EXPECT_EQ(fs::status(root_ / "data" / "test-hello").permissions() & fs::perms::all,
            fs::perms::owner_all);

  auto r = get("/hello");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "hello from test-hello\nhi there\n");

  auto reply = cli("hello", {"a", "b c"});
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.output, "hello a b c\n");
  reply = cli("hello", {"x\"y"}, true);
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.output, R"({"plugin":"test-hello","args":["x\"y"]})");

  bool listed = false;
  for (const auto& v : verbs_->list())
    if (v.verb == "hello") listed = v.owner == "test-hello";
  EXPECT_TRUE(listed);

  // Its 10 ms timer runs on the plugin executor.
  unsigned ticks = 0;
  for (int n = 0; n < 200 && ticks < 2; ++n) {
    std::this_thread::sleep_for(10ms);
    ticks = static_cast<unsigned>(std::stoul(get("/hello/ticks").body));
  }
  EXPECT_GE(ticks, 2u);

  // Changed settings restart the plugin, so that it reads them; unchanged ones do not.
  cfg.settings["test-hello"] = R"({"greeting":"changed"})";
  auto report = manager_->apply(cfg);
  EXPECT_EQ(report.restarted, std::vector<std::string>{"test-hello"});
  EXPECT_EQ(info("test-hello").state, "running");
  EXPECT_EQ(get("/hello").body, "hello from test-hello\nchanged\n");
  EXPECT_TRUE(manager_->apply(cfg).restarted.empty());
}

// ABI 1.3 check_config: refused settings fail the load with the setting's line, and a reload
// that any plugin refuses changes nothing.
TEST_F(PluginManagerTest, CheckConfigGuardsLoadAndReload) {
  auto cfg = enable({"test-hello"});
  cfg.source = "/etc/mesh.toml";
  cfg.settings["test-hello"] = R"({"limit":-1})";
  cfg.setting_lines["test-hello"] = {{"", 7}, {"limit", 9}};
  manager_->apply(cfg);
  auto i = info("test-hello");
  EXPECT_EQ(i.state, "failed");
  EXPECT_EQ(i.error,
            "plugin 'test-hello': settings refused: /etc/mesh.toml:9: [plugins.test-hello] limit: "
            "must be positive");
  EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(router_->find("GET", "/hello")))
      << "no instance was created";

  cfg.settings["test-hello"] = R"({"greeting":"one","limit":3})";
  manager_->apply(cfg);
  ASSERT_EQ(info("test-hello").state, "running") << info("test-hello").error;

  auto reload = [&](const config::PluginsConfig& c) {
    std::promise<ApplyReport> p;
    auto f = p.get_future();
    manager_->reload(c, [&p](ApplyReport r) { p.set_value(std::move(r)); });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  };
  auto bad = cfg;
  bad.settings["test-hello"] = R"({"greeting":"two","limit":0})";
  auto report = reload(bad);
  EXPECT_EQ(report.refused, std::vector<std::string>{
                                "/etc/mesh.toml:9: [plugins.test-hello] limit: must be positive"});
  EXPECT_EQ(get("/hello").body, "hello from test-hello\none\n");  // not restarted

  auto good = cfg;
  good.settings["test-hello"] = R"({"greeting":"two"})";
  report = reload(good);
  EXPECT_TRUE(report.refused.empty());
  EXPECT_EQ(report.restarted, std::vector<std::string>{"test-hello"});
  EXPECT_EQ(get("/hello").body, "hello from test-hello\ntwo\n");
}

TEST_F(PluginManagerTest, DisableRemovesRoutesVerbsAndAnswersPendingCalls) {
  manager_->apply(enable({"test-hello"}));
  ASSERT_EQ(info("test-hello").state, "running") << info("test-hello").error;

  auto hanging = start_get("/hello/hang");
  ASSERT_TRUE(hanging);
  auto hanging_cli = start_cli("hello-hang", {});
  ASSERT_EQ(hanging_cli.first_chunk->get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(hanging_cli.result->chunks.front(), "waiting...\n");
  EXPECT_EQ(hanging->wait_for(50ms), std::future_status::timeout);

  manager_->apply(enable({}));
  auto i = info("test-hello");
  EXPECT_EQ(i.state, "stopped");
  EXPECT_FALSE(i.enabled);

  ASSERT_EQ(hanging->wait_for(5s), std::future_status::ready);
  EXPECT_EQ(hanging->get().status, 503u);
  ASSERT_EQ(hanging_cli.done->get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(hanging_cli.result->reply.exit_code, 1);
  EXPECT_NE(hanging_cli.result->reply.output.find("stopped"), std::string::npos);

  auto found = router_->find("GET", "/hello");
  ASSERT_TRUE(std::holds_alternative<http::Router::Miss>(found));
  EXPECT_EQ(cli("hello", {}).exit_code, 2);  // unknown command
  for (const auto& v : verbs_->list()) EXPECT_NE(v.owner, "test-hello");

  // Enabled again: loaded and started again (the code stayed mapped).
  manager_->apply(enable({"test-hello"}));
  EXPECT_EQ(info("test-hello").state, "running") << info("test-hello").error;
  EXPECT_EQ(get("/hello").status, 200u);
  EXPECT_EQ(cli("hello", {"again"}).output, "hello again\n");
}

TEST_F(PluginManagerTest, BrokenPluginsAreRefusedWithClearMessages) {
  manager_->apply(
      enable({"test-hello", "broken-noentry", "broken-major", "broken-minor", "broken-create",
              "broken-throws", "broken-dup", "no-such-plugin", "test-hello"}));

  const std::vector<std::pair<std::string, std::string>> expected = {
      {"broken-noentry", "plugin 'broken-noentry': no entry symbol mesh_plugin_entry"},
      {"broken-major", "plugin 'broken-major': built for ABI 2.0, host is 1.3"},
      {"broken-minor",
       "plugin 'broken-minor': built for ABI 1.9 which is newer than the host's 1.3"},
      {"broken-create", "plugin 'broken-create': create failed: missing required setting 'token'"},
      {"broken-throws", "plugin 'broken-throws': threw an exception across the ABI in create"},
      {"broken-dup",
       "plugin 'broken-dup': its descriptor claims id 'test-hello', which is already taken by a "
       "running plugin"},
      {"no-such-plugin", "plugin 'no-such-plugin': not found (no no-such-plugin.json in "},
  };
  for (const auto& [id, message] : expected) {
    auto i = info(id);
    EXPECT_EQ(i.state, "failed") << id;
    EXPECT_TRUE(i.enabled) << id;
    EXPECT_EQ(i.error.substr(0, message.size()), message) << id << ": " << i.error;
  }

  // The good one is unaffected, and listed once although enabled twice.
  EXPECT_EQ(info("test-hello").state, "running");
  EXPECT_EQ(get("/hello").status, 200u);
  EXPECT_EQ(cli("hello", {}).exit_code, 0);
  int count = 0;
  for (const auto& i : manager_->list()) count += i.id == "test-hello";
  EXPECT_EQ(count, 1);

  // Failed plugins are retried on the next apply (and fail the same way, harmlessly).
  manager_->apply(enable({"test-hello", "broken-create", "broken-throws"}));
  EXPECT_EQ(info("broken-create").state, "failed");
  EXPECT_EQ(info("broken-throws").state, "failed");
  EXPECT_FALSE(info("broken-major").enabled);
  EXPECT_EQ(get("/hello").status, 200u);
}

TEST_F(PluginManagerTest, DescriptorIdMustMatchManifest) {
  manager_->apply(enable({"broken-dup"}));
  auto i = info("broken-dup");
  EXPECT_EQ(i.state, "failed");
  EXPECT_EQ(i.error,
            "plugin 'broken-dup': descriptor id 'test-hello' does not match the manifest id "
            "'broken-dup'");
}

TEST_F(PluginManagerTest, ManifestIsVerified) {
  struct Case {
    std::function<void(std::string&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](std::string& j) {
         replace(j, "\"sha256\": \"", "\"sha256\": \"0000");
         j.erase(j.find("0000") + 64, 4);
       },
       "test-hello.so does not match its manifest"},
      {[](std::string& j) { replace(j, "\"abi\": \"1.3\"", "\"abi\": \"2.0\""); },
       "built for ABI 2.0, host is 1.3"},
      {[](std::string& j) { replace(j, "\"abi\": \"1.3\"", "\"abi\": \"1.4\""); },
       "built for ABI 1.4 which is newer than the host's 1.3"},
      {[](std::string& j) { replace(j, "\"id\": \"test-hello\"", "\"id\": \"other\""); },
       "is for id 'other'"},
      {[](std::string& j) {
         replace(j, "\"library\": \"test-hello.so\"", "\"library\": \"../x.so\"");
       },
       "must be a plain file name"},
      {[](std::string& j) { j = "{not json"; }, "is not valid JSON"},
      {[](std::string& j) { j = "[]"; }, "is not a JSON object"},
      {[](std::string& j) { replace(j, "\"version\": \"1.0.0\",", ""); }, "has no \"version\""},
      {[](std::string& j) { j += std::string(70 * 1024, ' '); }, "the limit is 65536"},
  };
  for (const auto& c : cases) {
    auto dir = tampered_copy(c.edit);
    config::PluginsConfig cfg = enable({"test-hello"});
    cfg.paths = {dir.string()};  // searched before the built-in directory
    manager_->apply(cfg);
    auto i = info("test-hello");
    EXPECT_EQ(i.state, "failed") << c.message;
    EXPECT_NE(i.error.find(c.message), std::string::npos) << c.message << " vs " << i.error;
    EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(router_->find("GET", "/hello")));
  }

  // An untouched copy in the configured path works.
  auto dir = tampered_copy([](std::string&) {});
  config::PluginsConfig cfg = enable({"test-hello"});
  cfg.paths = {dir.string()};
  manager_->apply(cfg);
  EXPECT_EQ(info("test-hello").state, "running") << info("test-hello").error;
  EXPECT_EQ(get("/hello").status, 200u);
}

TEST_F(PluginManagerTest, StopAllAndDestructionAnswerPendingCalls) {
  manager_->apply(enable({"test-hello"}));
  auto hanging = start_get("/hello/hang");
  ASSERT_TRUE(hanging);
  // Give the executor a moment to hand the call to the plugin (either way it must be answered).
  std::this_thread::sleep_for(20ms);
  manager_.reset();
  ASSERT_EQ(hanging->wait_for(5s), std::future_status::ready);
  EXPECT_EQ(hanging->get().status, 503u);
  EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(router_->find("GET", "/hello")));
}

// ---- ABI 1.2 ----

// MESH_E_* codes as the test plugin prints them (this test does not include the SDK header).
constexpr int kInvalid = -1, kLimit = -4, kUnsupported = -6;

// An in-memory Exchange: the body comes from `in` (optionally never ending, like a client that
// stalls), what the plugin sends is recorded.
class FakeExchange : public http::Exchange {
 public:
  explicit FakeExchange(std::string body, bool stall = false)
      : in_(std::move(body)), stall_(stall) {}

  Result<std::size_t> read(char* buf, std::size_t cap) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || pos_ < in_.size() || !stall_; });
    if (closed_) return make_error(Errc::io, "closed");
    std::size_t n = std::min(cap, in_.size() - pos_);
    std::memcpy(buf, in_.data() + pos_, n);
    pos_ += n;
    ++reads_;
    return n;
  }
  Status begin(unsigned status, std::vector<std::pair<std::string, std::string>> h) override {
    std::lock_guard lock(mu_);
    if (begun_ || ended_ >= 0) return make_error(Errc::state, "begun");
    begun_ = true;
    status_ = status;
    headers_ = std::move(h);
    return {};
  }
  Status write(std::string_view data) override {
    std::lock_guard lock(mu_);
    if (!begun_ || ended_ >= 0) return make_error(Errc::state, "not begun");
    out_.append(data);
    return {};
  }
  Status end(bool ok) override {
    std::lock_guard lock(mu_);
    if (ended_ >= 0) return make_error(Errc::state, "ended");
    ended_ = ok ? 1 : 0;
    if (!ok) closed_ = true;
    cv_.notify_all();
    return {};
  }
  Status respond(http::Response r) override {
    std::lock_guard lock(mu_);
    if (begun_ || ended_ >= 0) return make_error(Errc::state, "begun");
    status_ = r.status;
    out_ = r.body;
    ended_ = 1;
    cv_.notify_all();
    return {};
  }

  // -1 while open, 1 ended well, 0 aborted.
  int wait_ended(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ended_ >= 0; });
    return ended_;
  }
  bool wait_reading(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(mu_);
        if (reads_ > 0) return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  std::string out() {
    std::lock_guard lock(mu_);
    return out_;
  }
  unsigned status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string in_;
  std::size_t pos_ = 0;
  bool stall_;
  bool closed_ = false;
  bool begun_ = false;
  int ended_ = -1;
  int reads_ = 0;
  unsigned status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string out_;
};

std::shared_ptr<FakeExchange> post_stream(http::Router& router, const std::string& path,
                                          std::string body, bool stall = false) {
  auto found = router.find("POST", path);
  if (!std::holds_alternative<http::Router::Match>(found)) return nullptr;
  auto& match = std::get<http::Router::Match>(found);
  if (!match.stream) return nullptr;
  auto ex = std::make_shared<FakeExchange>(std::move(body), stall);
  http::Request req;
  req.method = "POST";
  req.target = path;
  req.path = path;
  req.remote = "127.0.0.1:40000";
  req.loopback = true;
  match.stream(std::move(req), ex);
  return ex;
}

TEST_F(PluginManagerTest, StreamedRouteEchoesThroughTheExchange) {
  manager_->apply(enable({"test-hello"}));
  ASSERT_EQ(info("test-hello").state, "running") << info("test-hello").error;
  std::string body;
  for (int i = 0; i < 300'000; ++i) body += static_cast<char>('a' + i % 26);
  auto ex = post_stream(*router_, "/hello/echo", body);
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->wait_ended(10s), 1);
  EXPECT_EQ(ex->status(), 200u);
  EXPECT_EQ(ex->out(), body);
  // The flags became route options: local only for /hello/local, streamed only for POST.
  auto local = router_->find("GET", "/hello/local");
  ASSERT_TRUE(std::holds_alternative<http::Router::Match>(local));
  EXPECT_EQ(std::get<http::Router::Match>(local).options.access, http::Access::local);
  EXPECT_FALSE(std::get<http::Router::Match>(local).stream);
  auto hello = router_->find("GET", "/hello");
  EXPECT_EQ(std::get<http::Router::Match>(hello).options.access, http::Access::member);
}

TEST_F(PluginManagerTest, StopAbortsStreamedCallsWithoutWaitingForTheClient) {
  manager_->apply(enable({"test-hello"}));
  // A client that sends a little and then nothing: the plugin's reader blocks in http_read.
  auto ex = post_stream(*router_, "/hello/echo", "partial", /*stall=*/true);
  ASSERT_TRUE(ex);
  ASSERT_TRUE(ex->wait_reading(5s));
  auto t0 = std::chrono::steady_clock::now();
  manager_->apply(enable({}));  // stops test-hello, whose stop() joins its worker threads
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(info("test-hello").state, "stopped");
  EXPECT_EQ(ex->wait_ended(1s), 0);  // aborted
  EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(router_->find("POST", "/hello/echo")));
}

TEST_F(PluginManagerTest, HeartbeatValuesAreValidatedAndClearedOnStop) {
  manager_->apply(enable({"test-hello"}));
  EXPECT_TRUE(manager_->heartbeat_values().empty());
  EXPECT_EQ(cli("hello-beat", {R"({ "queue" : [1, 2] })"}).output, "0\n");
  auto v = manager_->heartbeat_values();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.at("test-hello"), R"({"queue":[1,2]})");  // stored compact
  EXPECT_EQ(cli("hello-beat", {"{not json"}).output, std::to_string(kInvalid) + "\n");
  EXPECT_EQ(cli("hello-beat", {"\"" + std::string(9000, 'x') + "\""}).output,
            std::to_string(kLimit) + "\n");
  EXPECT_EQ(manager_->heartbeat_values().at("test-hello"), R"({"queue":[1,2]})");
  EXPECT_EQ(cli("hello-beat", {""}).output, "0\n");  // empty clears
  EXPECT_TRUE(manager_->heartbeat_values().empty());
  EXPECT_EQ(cli("hello-beat", {"42"}).output, "0\n");
  manager_->apply(enable({}));
  EXPECT_TRUE(manager_->heartbeat_values().empty());
}

TEST_F(PluginManagerTest, PeerConnectWithoutCertificateIsUnsupported) {
  manager_->apply(enable({"test-hello"}));
  auto r = cli("hello-peer", {"127.0.0.1:1", "any"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("code " + std::to_string(kUnsupported)), std::string::npos) << r.output;
  r = cli("hello-peer", {"127.0.0.1:1", "not-an-id"});
  EXPECT_NE(r.output.find("code " + std::to_string(kInvalid)), std::string::npos) << r.output;
}

// ABI 1.3 status_set: validated, stored per plugin, replaced, cleared by empty parts and on stop.
TEST_F(PluginManagerTest, StatusSectionsAreValidatedAndClearedOnStop) {
  manager_->apply(enable({"test-hello"}));
  auto status = [&](std::vector<std::string> args) { return cli("hello-status", args).output; };
  EXPECT_TRUE(manager_->status_sections().empty());
  EXPECT_EQ(status({R"({ "repos" : [ ] })", "Hello\n  fine\n", "<p>fine</p>"}), "0\n");
  auto sections = manager_->status_sections();
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_EQ(sections[0].plugin, "test-hello");
  EXPECT_EQ(sections[0].json, R"({"repos":[]})");  // stored compact
  EXPECT_EQ(sections[0].text, "Hello\n  fine\n");
  EXPECT_EQ(sections[0].html, "<p>fine</p>");

  const std::string invalid = std::to_string(kInvalid) + "\n";
  for (const char* core : {"node", "peers", "nearby", "gossip", "plugins", "sections"})
    EXPECT_EQ(status({std::string("{\"") + core + "\":1}"}), invalid) << core;
  EXPECT_EQ(status({"[1,2]"}), invalid);  // not an object
  EXPECT_EQ(status({"{oops"}), invalid);
  EXPECT_EQ(status({"{}", "bell\x07"}), invalid);  // control characters in the text
  EXPECT_EQ(status({"{}", "esc\x1b[31m"}), invalid);
  EXPECT_EQ(status({"{}", "bad \xff utf-8"}), invalid);  // not UTF-8
  EXPECT_EQ(status({"{}", "", "<p>\xc0\xaf</p>"}), invalid);
  const std::string limit = std::to_string(kLimit) + "\n";
  EXPECT_EQ(status({"{\"x\":\"" + std::string(256 * 1024, 'x') + "\"}"}), limit);
  EXPECT_EQ(status({"{}", std::string(64 * 1024 + 1, 't')}), limit);
  EXPECT_EQ(status({"{}", "", std::string(256 * 1024 + 1, 'h')}), limit);
  EXPECT_EQ(manager_->status_sections().at(0).text, "Hello\n  fine\n");  // refusals kept it

  EXPECT_EQ(status({"", "only text"}), "0\n");  // replaces the whole section
  EXPECT_EQ(manager_->status_sections().at(0).json, "");
  EXPECT_EQ(manager_->status_sections().at(0).text, "only text");
  EXPECT_EQ(status({""}), "0\n");  // all empty clears
  EXPECT_TRUE(manager_->status_sections().empty());
  EXPECT_EQ(status({"{\"n\":1}"}), "0\n");
  manager_->apply(enable({}));
  EXPECT_TRUE(manager_->status_sections().empty());
}

TEST_F(PluginManagerTest, ReposDirIsOfferedWhenTheHostHasOne) {
  manager_->apply(enable({"test-hello"}));
  auto r = cli("hello-repos", {});
  EXPECT_EQ(r.exit_code, 1);  // the helper throws MESH_E_UNSUPPORTED: no repos root here
  EXPECT_NE(r.output.find("code " + std::to_string(kUnsupported)), std::string::npos) << r.output;
  manager_.reset();
  HostServices s{
      io_, router_, verbs_, root_ / "data", root_ / "repos", {fs::path(MESH_TEST_PLUGIN_DIR)}};
  manager_ = std::make_unique<Manager>(std::move(s));
  manager_->apply(enable({"test-hello"}));
  r = cli("hello-repos", {});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, (root_ / "repos").string() + "\n");
}

// A stop that overruns [plugins] stop_timeout_ms: apply reports it and goes on, the plugin stays
// "stopping" (and is not loaded a second time) until its stop returns, then the latest config
// applies again and starts it.
TEST_F(PluginManagerTest, StopThatOverrunsItsDeadlineIsReportedAndFinishesLater) {
  auto on = enable({"test-blocker"});
  on.stop_timeout_ms = 200;
  auto off = enable({});
  off.stop_timeout_ms = 200;
  manager_->apply(on);
  ASSERT_EQ(info("test-blocker").state, "running") << info("test-blocker").error;
  ASSERT_EQ(cli("blocker-hang-stop", {}).exit_code, 0);

  auto report = manager_->apply(off);  // returns after the deadline, the stop still hanging
  EXPECT_EQ(report.stuck, std::vector<std::string>{"test-blocker"});
  auto i = info("test-blocker");
  EXPECT_EQ(i.state, "stopping");
  EXPECT_NE(i.error.find("stop() has not returned after 200 ms"), std::string::npos) << i.error;
  const auto dir = root_ / "data" / "test-blocker";
  auto log = [&] {
    std::ifstream in(dir / "blocker.log");
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  EXPECT_EQ(log(), "stop blocked\n");
  EXPECT_TRUE(std::holds_alternative<http::Router::Miss>(router_->find("GET", "/blocker")));

  // Enabled again meanwhile: left alone while its stop runs.
  report = manager_->apply(on);
  EXPECT_TRUE(report.stuck.empty());
  EXPECT_EQ(info("test-blocker").state, "stopping");

  std::ofstream(dir / "release").put('x');
  bool running = false;
  for (int n = 0; n < 1000 && !running; ++n) {
    running = info("test-blocker").state == "running";
    if (!running) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(running) << info("test-blocker").state << ": " << info("test-blocker").error;
  EXPECT_EQ(log(), "stop blocked\nstop released\n");
  EXPECT_EQ(get("/blocker").body, "blocker\n");
}

}  // namespace
}  // namespace mesh::plugin
