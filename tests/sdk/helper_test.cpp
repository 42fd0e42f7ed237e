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
  }
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

}  // namespace
