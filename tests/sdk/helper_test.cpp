// Drives mesh/plugin.hpp through a fake host table: the descriptor, the host-table checks and
// the exception barrier on every entry point and trampoline.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "mesh/plugin.hpp"

namespace {

struct FakeHost {
  std::string config = "{}";
  std::vector<std::string> logs;
  struct Route {
    mesh_http_handler fn;
    void* user;
  };
  std::map<std::string, Route> routes;
  struct Verb {
    mesh_cli_handler fn;
    void* user;
  };
  std::map<std::string, Verb> verbs;
  std::map<uint64_t, std::pair<mesh_timer_fn, void*>> timers;
  std::map<uint64_t, mesh_http_response> http_answers;
  std::map<uint64_t, std::string> http_bodies;
  std::map<uint64_t, std::pair<int32_t, std::string>> cli_answers;
  uint64_t next_timer = 1;
  mesh_host table{};

  FakeHost() {
    table.struct_size = sizeof table;
    table.abi_major = MESH_ABI_MAJOR;
    table.abi_minor = MESH_ABI_MINOR;
    table.ctx = this;
    table.log = [](void* ctx, uint32_t, mesh_str m) { self(ctx)->logs.emplace_back(m.ptr, m.len); };
    table.config_json = [](void* ctx, char* buf, size_t cap, size_t* needed) -> int32_t {
      const std::string& c = self(ctx)->config;
      *needed = c.size();
      if (cap < c.size()) return MESH_E_LIMIT;
      std::memcpy(buf, c.data(), c.size());
      return MESH_OK;
    };
    table.data_dir = [](void*, char* buf, size_t cap, size_t* needed) -> int32_t {
      static const char d[] = "/tmp/data";
      *needed = sizeof d - 1;
      if (cap < sizeof d - 1) return MESH_E_LIMIT;
      std::memcpy(buf, d, sizeof d - 1);
      return MESH_OK;
    };
    table.http_route = [](void* ctx, mesh_str method, mesh_str path, uint64_t, mesh_http_handler fn,
                          void* user, char* err, size_t cap) -> int32_t {
      std::string key = std::string(method.ptr, method.len) + " " + std::string(path.ptr, path.len);
      if (self(ctx)->routes.count(key)) {
        std::snprintf(err, cap, "route %s exists", key.c_str());
        return MESH_E_EXISTS;
      }
      self(ctx)->routes[key] = {fn, user};
      return MESH_OK;
    };
    table.http_respond = [](void* ctx, uint64_t id, const mesh_http_response* r) -> int32_t {
      if (self(ctx)->http_answers.count(id)) return MESH_E_NOT_FOUND;
      self(ctx)->http_answers[id] = *r;
      self(ctx)->http_bodies[id] = std::string(r->body.ptr, r->body.len);
      return MESH_OK;
    };
    table.cli_verb = [](void* ctx, mesh_str verb, mesh_str, mesh_cli_handler fn, void* user, char*,
                        size_t) -> int32_t {
      self(ctx)->verbs[std::string(verb.ptr, verb.len)] = {fn, user};
      return MESH_OK;
    };
    table.cli_respond = [](void* ctx, uint64_t id, int32_t code, mesh_str out) -> int32_t {
      if (self(ctx)->cli_answers.count(id)) return MESH_E_NOT_FOUND;
      self(ctx)->cli_answers[id] = {code, std::string(out.ptr, out.len)};
      return MESH_OK;
    };
    table.timer_start = [](void* ctx, uint64_t, uint32_t, mesh_timer_fn fn, void* user,
                           uint64_t* id) -> int32_t {
      *id = self(ctx)->next_timer++;
      self(ctx)->timers[*id] = {fn, user};
      return MESH_OK;
    };
    table.timer_cancel = [](void* ctx, uint64_t id) -> int32_t {
      return self(ctx)->timers.erase(id) ? MESH_OK : MESH_E_NOT_FOUND;
    };
    table.cli_chunk = [](void*, uint64_t, mesh_str) -> int32_t { return MESH_OK; };
    // ABI 1.1 events.
    table.publish = [](void* ctx, mesh_str topic, mesh_str payload, uint64_t* seq, char* err,
                       size_t cap) -> int32_t {
      if (payload.len > 10) {
        std::snprintf(err, cap, "payload too big");
        return MESH_E_LIMIT;
      }
      self(ctx)->published.emplace_back(std::string(topic.ptr, topic.len),
                                        std::string(payload.ptr, payload.len));
      *seq = self(ctx)->published.size();
      return MESH_OK;
    };
    table.subscribe = [](void* ctx, mesh_str name, mesh_str, mesh_event_handler fn, void* user,
                         char*, size_t) -> int32_t {
      self(ctx)->subs[std::string(name.ptr, name.len)] = {fn, user};
      return MESH_OK;
    };
    table.unsubscribe = [](void* ctx, mesh_str name) -> int32_t {
      return self(ctx)->subs.erase(std::string(name.ptr, name.len)) ? MESH_OK : MESH_E_NOT_FOUND;
    };
    table.peers_json = [](void*, char* buf, size_t cap, size_t* needed) -> int32_t {
      static const char d[] = "[]";
      *needed = sizeof d - 1;
      if (cap < sizeof d - 1) return MESH_E_LIMIT;
      std::memcpy(buf, d, sizeof d - 1);
      return MESH_OK;
    };
    table.self_json = table.peers_json;
    // ABI 1.2: one streamed call whose body is `stream_in`, one echoing peer connection.
    table.http_route2 = [](void* ctx, mesh_str method, mesh_str path, uint64_t, uint32_t flags,
                           mesh_http_handler fn, void* user, char*, size_t) -> int32_t {
      std::string key = std::string(method.ptr, method.len) + " " + std::string(path.ptr, path.len);
      self(ctx)->routes[key] = {fn, user};
      self(ctx)->route_flags[key] = flags;
      return MESH_OK;
    };
    table.http_read = [](void* ctx, uint64_t, char* buf, size_t cap, size_t* got) -> int32_t {
      auto& in = self(ctx)->stream_in;
      *got = std::min(cap, in.size());
      std::memcpy(buf, in.data(), *got);
      in.erase(0, *got);
      return MESH_OK;
    };
    table.http_begin = [](void* ctx, uint64_t, uint32_t status, const mesh_http_header* h,
                          size_t n) -> int32_t {
      self(ctx)->stream_status = status;
      for (size_t i = 0; i < n; ++i)
        self(ctx)->stream_headers += std::string(h[i].name.ptr, h[i].name.len) + ": " +
                                     std::string(h[i].value.ptr, h[i].value.len) + "\n";
      return MESH_OK;
    };
    table.http_write = [](void* ctx, uint64_t, mesh_str data) -> int32_t {
      self(ctx)->stream_out.append(data.ptr, data.len);
      return MESH_OK;
    };
    table.http_end = [](void* ctx, uint64_t, uint32_t ok) -> int32_t {
      self(ctx)->stream_ended = ok ? 1 : 0;
      return MESH_OK;
    };
    table.peer_connect = [](void* ctx, mesh_str addr, mesh_str pin, uint32_t, uint64_t* conn,
                            char* err, size_t cap) -> int32_t {
      if (std::string(pin.ptr ? pin.ptr : "", pin.len) == "mesh:wrong") {
        std::snprintf(err, cap, "not the expected member");
        return MESH_E_INTERNAL;
      }
      self(ctx)->peer_addr = std::string(addr.ptr, addr.len);
      *conn = 42;
      self(ctx)->peer_open = true;
      return MESH_OK;
    };
    table.peer_read = [](void* ctx, uint64_t conn, char* buf, size_t cap, size_t* got) -> int32_t {
      if (conn != 42 || !self(ctx)->peer_open) return MESH_E_NOT_FOUND;
      auto& in = self(ctx)->peer_echo;
      *got = std::min(cap, in.size());
      std::memcpy(buf, in.data(), *got);
      in.erase(0, *got);
      return MESH_OK;
    };
    table.peer_write = [](void* ctx, uint64_t conn, mesh_str data) -> int32_t {
      if (conn != 42 || !self(ctx)->peer_open) return MESH_E_NOT_FOUND;
      self(ctx)->peer_echo.append(data.ptr, data.len);
      return MESH_OK;
    };
    table.peer_close = [](void* ctx, uint64_t conn) -> int32_t {
      if (conn != 42 || !self(ctx)->peer_open) return MESH_E_NOT_FOUND;
      self(ctx)->peer_open = false;
      ++self(ctx)->peer_closes;
      return MESH_OK;
    };
    table.heartbeat_set = [](void* ctx, mesh_str json) -> int32_t {
      self(ctx)->beat = std::string(json.ptr ? json.ptr : "", json.len);
      return MESH_OK;
    };
  }
  std::map<std::string, uint32_t> route_flags;
  std::string stream_in, stream_out, stream_headers;
  uint32_t stream_status = 0;
  int stream_ended = -1;
  std::string peer_addr, peer_echo, beat;
  bool peer_open = false;
  int peer_closes = 0;
  std::vector<std::pair<std::string, std::string>> published;
  std::map<std::string, std::pair<mesh_event_handler, void*>> subs;

  int32_t deliver(const std::string& name, std::string_view payload, uint64_t seq = 1) {
    mesh_event e{};
    e.struct_size = sizeof e;
    e.origin = mesh::sdk::view(std::string_view("mesh:aaa"));
    e.seq = seq;
    e.topic = mesh::sdk::view(std::string_view("t"));
    e.payload = mesh::sdk::view(payload);
    return subs.at(name).first(subs.at(name).second, &e);
  }
  static FakeHost* self(void* ctx) { return static_cast<FakeHost*>(ctx); }

  void call_route(const std::string& key, uint64_t call_id) {
    mesh_http_request r{};
    r.struct_size = sizeof r;
    r.call_id = call_id;
    r.method = mesh::sdk::view(std::string_view("GET"));
    r.path = mesh::sdk::view(std::string_view("/x"));
    routes.at(key).fn(routes.at(key).user, &r);
  }
  void call_verb(const std::string& verb, uint64_t call_id, std::vector<std::string> args) {
    std::vector<mesh_str> argv;
    for (auto& a : args) argv.push_back(mesh::sdk::view(a));
    mesh_cli_request r{};
    r.struct_size = sizeof r;
    r.call_id = call_id;
    r.argv = argv.data();
    r.argc = argv.size();
    verbs.at(verb).fn(verbs.at(verb).user, &r);
  }
};

class Probe : public mesh::sdk::Plugin {
 public:
  void start() override {
    std::string cfg = host().config_json();
    if (cfg.find("fail-start") != std::string::npos) throw std::runtime_error("start says no");
    if (cfg.find("fail-odd") != std::string::npos) throw 42;
    route("GET", "/ok", [](const mesh::sdk::HttpRequest& r) {
      r.respond(mesh::sdk::HttpResponse::text(200, "ok " + std::string(r.path())));
    });
    route("GET", "/throws", [](const mesh::sdk::HttpRequest&) { throw std::logic_error("boom"); });
    verb("echo", "echoes", [](const mesh::sdk::CliRequest& c) {
      std::string out;
      for (auto a : c.args()) out += std::string(a) + ";";
      c.reply(0, out);
    });
    verb("bad", "throws", [](const mesh::sdk::CliRequest&) { throw std::runtime_error("nope"); });
    once_ = timer(std::chrono::milliseconds(5), false, [this] { ++fired_; });
    timer(std::chrono::milliseconds(5), true, [] { throw std::runtime_error("tick"); });
    try {
      subscribe("all", "*", [this](const mesh::sdk::Event& e) {
        if (e.payload() == "throw") throw std::runtime_error("event boom");
        last_event_ = std::string(e.origin()) + "#" + std::to_string(e.seq()) + " " +
                      std::string(e.payload());
        return e.payload() != "no";
      });
    } catch (const mesh::sdk::Error& e) {
      if (e.code() != MESH_E_UNSUPPORTED) throw;
      no_events_ = true;
    }
    // A duplicate route reports the host's message through the barrier.
    if (cfg.find("dup") != std::string::npos) route("GET", "/ok", {});
  }
  int fired_ = 0;
  uint64_t once_ = 0;
  bool no_events_ = false;
  std::string last_event_;
  using Plugin::publish;  // exposed for the test
  using Plugin::unsubscribe;
};

}  // namespace

MESH_PLUGIN(Probe, "probe", "1.2.3");

namespace {

const mesh_plugin_descriptor* desc() {
  return mesh_plugin_entry(MESH_ABI_MAJOR, MESH_ABI_MINOR);
}

TEST(SdkHelper, Descriptor) {
  const mesh_plugin_descriptor* d = desc();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->struct_size, sizeof(mesh_plugin_descriptor));
  EXPECT_EQ(d->abi_major, MESH_ABI_MAJOR);
  EXPECT_EQ(d->abi_minor, MESH_ABI_MINOR);
  EXPECT_STREQ(d->id, "probe");
  EXPECT_STREQ(d->version, "1.2.3");
}

// A plugin class with the ABI 1.3 settings check (its own descriptor; the binary's entry
// symbol belongs to Probe).
class Checked : public mesh::sdk::Plugin {
 public:
  static void check_config(const std::string& json) {
    if (json == "odd") throw 7;
    if (json.find("\"limit\":-") != std::string::npos)
      throw std::invalid_argument("limit: must be positive");
  }
};

TEST(SdkHelper, CheckConfigIsDetectedAndBehindTheBarrier) {
  const mesh_plugin_descriptor* d = mesh::sdk::detail::Glue<Checked>::descriptor("checked", "1");
  ASSERT_TRUE(MESH_HAS_FIELD(d, mesh_plugin_descriptor, check_config));
  ASSERT_NE(d->check_config, nullptr);
  char err[MESH_ERR_CAP] = {0};
  EXPECT_EQ(d->check_config("{}", 2, err, sizeof err), MESH_OK);
  const std::string bad = R"({"limit":-1})";
  EXPECT_EQ(d->check_config(bad.data(), bad.size(), err, sizeof err), MESH_E_INVALID);
  EXPECT_STREQ(err, "limit: must be positive");
  // Only len bytes count: the text is not NUL-terminated.
  EXPECT_EQ(d->check_config(bad.data(), 2, err, sizeof err), MESH_OK);
  EXPECT_EQ(d->check_config("odd", 3, err, sizeof err), MESH_E_INVALID);
  EXPECT_STREQ(err, "check_config refused the settings (unknown exception)");
  EXPECT_EQ(d->check_config(nullptr, 0, err, sizeof err), MESH_OK);
  // A class without one offers none.
  EXPECT_EQ(desc()->check_config, nullptr);
}

TEST(SdkHelper, RefusesSmallOrForeignHost) {
  FakeHost h;
  char err[MESH_ERR_CAP] = {0};
  void* inst = reinterpret_cast<void*>(1);
  h.table.struct_size = 16;
  EXPECT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_E_UNSUPPORTED);
  EXPECT_EQ(inst, nullptr);
  EXPECT_STREQ(err, "host table too small");
  h.table.struct_size = sizeof h.table;
  h.table.abi_major = 2;
  EXPECT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_E_UNSUPPORTED);
  EXPECT_EQ(desc()->create(nullptr, &inst, err, sizeof err), MESH_E_UNSUPPORTED);
}

TEST(SdkHelper, StartExceptionBecomesError) {
  for (const char* cfg : {"{\"fail-start\":true}", "{\"fail-odd\":true}", "{\"dup\":true}"}) {
    FakeHost h;
    h.config = cfg;
    char err[MESH_ERR_CAP] = {0};
    void* inst = nullptr;
    ASSERT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_OK);
    int32_t rc = desc()->start(inst, err, sizeof err);
    EXPECT_LT(rc, 0) << cfg;
    if (std::string(cfg).find("fail-start") != std::string::npos) {
      EXPECT_EQ(rc, MESH_E_INTERNAL);
      EXPECT_STREQ(err, "start says no");
    } else if (std::string(cfg).find("dup") != std::string::npos) {
      EXPECT_EQ(rc, MESH_E_EXISTS);
      EXPECT_NE(std::string(err).find("route GET /ok exists"), std::string::npos) << err;
    } else {
      EXPECT_STREQ(err, "unknown exception in start");
    }
    desc()->destroy(inst);
  }
}

TEST(SdkHelper, HandlersAndBarrier) {
  FakeHost h;
  h.config = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";  // forces the buffer to grow
  char err[MESH_ERR_CAP] = {0};
  void* inst = nullptr;
  ASSERT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_OK);
  ASSERT_EQ(desc()->start(inst, err, sizeof err), MESH_OK) << err;
  ASSERT_EQ(h.routes.size(), 2u);
  ASSERT_EQ(h.verbs.size(), 2u);
  ASSERT_EQ(h.timers.size(), 2u);

  h.call_route("GET /ok", 7);
  EXPECT_EQ(h.http_answers.at(7).status, 200u);
  EXPECT_EQ(h.http_bodies.at(7), "ok /x");

  h.call_route("GET /throws", 8);
  EXPECT_EQ(h.http_answers.at(8).status, 500u);
  ASSERT_FALSE(h.logs.empty());
  EXPECT_NE(h.logs.back().find("boom"), std::string::npos);

  h.call_verb("echo", 9, {"a", "b"});
  EXPECT_EQ(h.cli_answers.at(9), std::make_pair(0, std::string("a;b;")));
  h.call_verb("bad", 10, {});
  EXPECT_EQ(h.cli_answers.at(10).first, 1);
  EXPECT_NE(h.cli_answers.at(10).second.find("nope"), std::string::npos);

  auto* probe = static_cast<Probe*>(static_cast<mesh::sdk::Plugin*>(inst));
  auto [fn, user] = h.timers.at(probe->once_);
  fn(user, probe->once_);
  EXPECT_EQ(probe->fired_, 1);
  for (auto& [id, t] : h.timers)
    if (id != probe->once_) t.first(t.second, id);  // throws inside: caught and logged
  EXPECT_NE(h.logs.back().find("tick"), std::string::npos);

  EXPECT_EQ(probe->host().data_dir(), "/tmp/data");
  desc()->stop(inst);
  desc()->destroy(inst);
}

TEST(SdkHelper, EventsAndBarrier) {
  FakeHost h;
  char err[MESH_ERR_CAP] = {0};
  void* inst = nullptr;
  ASSERT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_OK);
  ASSERT_EQ(desc()->start(inst, err, sizeof err), MESH_OK) << err;
  auto* probe = static_cast<Probe*>(static_cast<mesh::sdk::Plugin*>(inst));
  EXPECT_FALSE(probe->no_events_);
  ASSERT_EQ(h.subs.count("all"), 1u);

  EXPECT_EQ(h.deliver("all", "hi", 7), MESH_OK);
  EXPECT_EQ(probe->last_event_, "mesh:aaa#7 hi");
  EXPECT_NE(h.deliver("all", "no"), MESH_OK);  // false: delivered again later
  int32_t rc = h.deliver("all", "throw");      // the barrier: not handled, logged
  EXPECT_NE(rc, MESH_OK);
  EXPECT_NE(h.logs.back().find("event boom"), std::string::npos);

  EXPECT_EQ(probe->publish("t", "x"), 1u);
  EXPECT_EQ(probe->publish("t", "y"), 2u);
  try {
    probe->publish("t", "far too large");
    ADD_FAILURE() << "publish should throw";
  } catch (const mesh::sdk::Error& e) {
    EXPECT_EQ(e.code(), MESH_E_LIMIT);
    EXPECT_NE(std::string(e.what()).find("payload too big"), std::string::npos);
  }
  std::string why;
  uint64_t seq = 99;
  EXPECT_EQ(probe->host().publish("t", "far too large", &seq, &why), MESH_E_LIMIT);
  EXPECT_EQ(seq, 0u);
  EXPECT_EQ(why, "payload too big");
  EXPECT_EQ(probe->host().peers_json(), "[]");
  EXPECT_EQ(probe->unsubscribe("all"), MESH_OK);
  EXPECT_EQ(probe->unsubscribe("all"), MESH_E_NOT_FOUND);
  desc()->stop(inst);
  desc()->destroy(inst);
}

TEST(SdkHelper, HostWithoutEvents) {
  FakeHost h;
  h.table.publish = nullptr;
  h.table.subscribe = nullptr;
  h.table.unsubscribe = nullptr;
  h.table.peers_json = nullptr;
  h.table.self_json = nullptr;
  char err[MESH_ERR_CAP] = {0};
  void* inst = nullptr;
  ASSERT_EQ(desc()->create(&h.table, &inst, err, sizeof err), MESH_OK);
  ASSERT_EQ(desc()->start(inst, err, sizeof err), MESH_OK) << err;
  auto* probe = static_cast<Probe*>(static_cast<mesh::sdk::Plugin*>(inst));
  EXPECT_TRUE(probe->no_events_);
  EXPECT_FALSE(probe->host().has_events());
  EXPECT_EQ(probe->host().publish("t", "x"), MESH_E_UNSUPPORTED);
  EXPECT_EQ(probe->unsubscribe("all"), MESH_E_UNSUPPORTED);
  EXPECT_THROW(probe->host().peers_json(), mesh::sdk::Error);
  desc()->stop(inst);
  desc()->destroy(inst);
}

// ---- ABI 1.2 ----

class Streamer : public mesh::sdk::Plugin {
 public:
  void start() override {
    stream_route("POST", "/echo", [this](const mesh::sdk::HttpRequest&, mesh::sdk::HttpStream s) {
      stream_ = s;  // the test plays the plugin's own thread
    });
    route(
        "GET", "/local",
        [](const mesh::sdk::HttpRequest& r) {
          r.respond(mesh::sdk::HttpResponse::text(200, "local"));
        },
        1024, MESH_ROUTE_LOCAL);
    route("GET", "/plain", [](const mesh::sdk::HttpRequest&) {});
  }
  mesh::sdk::HttpStream stream_;
  using Plugin::heartbeat_set;
};

using StreamerGlue = mesh::sdk::detail::Glue<Streamer>;

Streamer* make_streamer(FakeHost& h, void** inst) {
  char err[MESH_ERR_CAP] = {0};
  EXPECT_EQ(StreamerGlue::create(&h.table, inst, err, sizeof err), MESH_OK) << err;
  int32_t rc = StreamerGlue::start(*inst, err, sizeof err);
  EXPECT_EQ(rc, MESH_OK) << err;
  return rc == MESH_OK ? static_cast<Streamer*>(static_cast<mesh::sdk::Plugin*>(*inst)) : nullptr;
}

TEST(SdkHelper, StreamRouteAndHttpStream) {
  FakeHost h;
  void* inst = nullptr;
  Streamer* p = make_streamer(h, &inst);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(h.route_flags.at("POST /echo"), MESH_ROUTE_STREAM);
  EXPECT_EQ(h.route_flags.at("GET /local"), MESH_ROUTE_LOCAL);
  EXPECT_EQ(h.route_flags.count("GET /plain"), 0u);  // flags 0: the 1.0 http_route
  EXPECT_EQ(h.routes.count("GET /plain"), 1u);

  h.call_route("POST /echo", 5);
  mesh::sdk::HttpStream s = p->stream_;
  EXPECT_EQ(s.call_id(), 5u);
  h.stream_in = std::string(10000, 'q');
  ASSERT_EQ(s.begin(201, {{"X-A", "b"}}), MESH_OK);
  char buf[4096];
  for (int64_t n; (n = s.read(buf, sizeof buf)) > 0;)
    ASSERT_EQ(s.write(std::string_view(buf, static_cast<size_t>(n))), MESH_OK);
  EXPECT_EQ(s.end(), MESH_OK);
  EXPECT_EQ(h.stream_status, 201u);
  EXPECT_EQ(h.stream_headers, "X-A: b\n");
  EXPECT_EQ(h.stream_out, std::string(10000, 'q'));
  EXPECT_EQ(h.stream_ended, 1);
  EXPECT_EQ(s.end(false), MESH_OK);
  EXPECT_EQ(h.stream_ended, 0);
  EXPECT_EQ(s.respond(mesh::sdk::HttpResponse::text(200, "x")), MESH_OK);
  EXPECT_EQ(h.http_bodies.at(5), "x");

  EXPECT_EQ(p->heartbeat_set("{\"a\":1}"), MESH_OK);
  EXPECT_EQ(h.beat, "{\"a\":1}");
  StreamerGlue::stop(inst);
  StreamerGlue::destroy(inst);
}

TEST(SdkHelper, PeerConnIsRaiiAndMovable) {
  FakeHost h;
  mesh::sdk::Host host(&h.table);
  {
    mesh::sdk::PeerConn c;
    EXPECT_FALSE(c.is_open());
    EXPECT_EQ(c.write("x"), MESH_E_STATE);
    char b[4];
    EXPECT_EQ(c.read(b, sizeof b), MESH_E_STATE);
    std::string why;
    EXPECT_EQ(c.connect(host, "h:1", "mesh:wrong", 0, &why), MESH_E_INTERNAL);
    EXPECT_EQ(why, "not the expected member");
    EXPECT_FALSE(c.is_open());
    ASSERT_EQ(c.connect(host, "h:1", "", 100), MESH_OK);
    EXPECT_EQ(h.peer_addr, "h:1");
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(c.write("ping"), MESH_OK);
    char buf[16];
    EXPECT_EQ(c.read(buf, sizeof buf), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");
    EXPECT_EQ(c.read(buf, sizeof buf), 0);  // the fake's "closed by the server"
    mesh::sdk::PeerConn moved(std::move(c));
    EXPECT_FALSE(c.is_open());
    EXPECT_TRUE(moved.is_open());
    mesh::sdk::PeerConn assigned;
    assigned = std::move(moved);
    EXPECT_TRUE(assigned.is_open());
    EXPECT_EQ(h.peer_closes, 0);
  }
  EXPECT_EQ(h.peer_closes, 1);  // exactly once, by the destructor of the last owner
  EXPECT_FALSE(h.peer_open);
}

TEST(SdkHelper, OlderHostSaysUnsupported) {
  FakeHost h;
  // A 1.1 host table: everything from http_route2 on is beyond struct_size.
  h.table.struct_size = offsetof(mesh_host, http_route2);
  mesh::sdk::Host host(&h.table);
  EXPECT_FALSE(host.has_abi_1_2());
  char buf[8];
  size_t got = 99;
  uint64_t conn = 99;
  std::string why;
  EXPECT_EQ(host.http_read(1, buf, sizeof buf, &got), MESH_E_UNSUPPORTED);
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(host.http_begin(1, 200, {}), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.http_write(1, "x"), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.http_end(1, true), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.peer_connect("h:1", "", 0, &conn, &why), MESH_E_UNSUPPORTED);
  EXPECT_EQ(conn, 0u);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(host.peer_read(1, buf, sizeof buf, &got), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.peer_write(1, "x"), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.peer_close(1), MESH_E_UNSUPPORTED);
  EXPECT_EQ(host.heartbeat_set("{}"), MESH_E_UNSUPPORTED);
  mesh::sdk::HttpStream s(host, 1);
  EXPECT_EQ(s.read(buf, sizeof buf), MESH_E_UNSUPPORTED);
  mesh::sdk::PeerConn c;
  EXPECT_EQ(c.connect(host, "h:1"), MESH_E_UNSUPPORTED);

  // Registering a flagged route on such a host fails start() with MESH_E_UNSUPPORTED (the
  // Glue refuses a table this small outright, so only the null-pointer case is reachable).
  FakeHost h2;
  h2.table.http_route2 = nullptr;
  char err[MESH_ERR_CAP] = {0};
  void* inst = nullptr;
  ASSERT_EQ(StreamerGlue::create(&h2.table, &inst, err, sizeof err), MESH_OK);
  EXPECT_EQ(StreamerGlue::start(inst, err, sizeof err), MESH_E_UNSUPPORTED);
  EXPECT_NE(std::string(err).find("http_route2"), std::string::npos) << err;
  StreamerGlue::destroy(inst);
}

// ABI 1.3 core services through the wrappers: repos_dir, status_set and route captures.
TEST(SdkHelper, CoreServicesAndParams) {
  FakeHost h;
  struct Seen {
    std::string json, text, html;
    uint32_t size = 0;
    int calls = 0;
  };
  static Seen seen;
  seen = Seen{};
  h.table.repos_dir = [](void*, char* buf, size_t cap, size_t* needed) -> int32_t {
    static const char d[] = "/home/u/.mesh/repos";
    *needed = sizeof d - 1;
    if (cap < sizeof d - 1) return MESH_E_LIMIT;
    std::memcpy(buf, d, sizeof d - 1);
    return MESH_OK;
  };
  h.table.status_set = [](void*, const mesh_status* s) -> int32_t {
    seen.size = s->struct_size;
    seen.json.assign(s->json.ptr ? s->json.ptr : "", s->json.len);
    seen.text.assign(s->text.ptr ? s->text.ptr : "", s->text.len);
    seen.html.assign(s->html.ptr ? s->html.ptr : "", s->html.len);
    ++seen.calls;
    return MESH_OK;
  };
  mesh::sdk::Host host(&h.table);
  EXPECT_EQ(host.repos_dir(), "/home/u/.mesh/repos");
  EXPECT_EQ(host.status_set(R"({"repos":[]})", "Repos\n  none\n", "<p>none</p>"), MESH_OK);
  EXPECT_EQ(seen.size, sizeof(mesh_status));
  EXPECT_EQ(seen.json, R"({"repos":[]})");
  EXPECT_EQ(seen.text, "Repos\n  none\n");
  EXPECT_EQ(seen.html, "<p>none</p>");
  EXPECT_EQ(host.status_set(""), MESH_OK);
  EXPECT_EQ(seen.calls, 2);
  EXPECT_EQ(seen.text, "");

  // A host of ABI 1.2 has neither.
  FakeHost old;
  old.table.struct_size = offsetof(mesh_host, repos_dir);
  mesh::sdk::Host old_host(&old.table);
  EXPECT_THROW(old_host.repos_dir(), mesh::sdk::Error);
  EXPECT_EQ(old_host.status_set("{}"), MESH_E_UNSUPPORTED);

  // Captures of a pattern route; none on a request from a host that fills none.
  mesh_http_header params[2] = {
      {mesh::sdk::view(std::string_view("repo")), mesh::sdk::view(std::string_view("my app"))},
      {mesh::sdk::view(std::string_view("run")), mesh::sdk::view(std::string_view("42"))}};
  mesh_http_request r{};
  r.struct_size = sizeof r;
  mesh::sdk::HttpRequest req(host, &r);
  EXPECT_EQ(req.param("repo"), "");
  r.params = params;
  r.param_count = 2;
  EXPECT_EQ(req.param("repo"), "my app");
  EXPECT_EQ(req.param("run"), "42");
  EXPECT_EQ(req.param("ru"), "");
  r.struct_size = offsetof(mesh_http_request, params);  // a 1.2 request: the fields are not there
  EXPECT_EQ(req.param("repo"), "");
}

}  // namespace
