#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "mesh/config/config.hpp"

using namespace mesh;
using namespace mesh::config;
namespace fs = std::filesystem;

namespace {
std::string parse_error(std::string_view text) {
  auto r = parse(text, "mesh.toml");
  EXPECT_FALSE(r) << "expected an error for:\n" << text;
  return r ? std::string() : r.error().message;
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)
}  // namespace

TEST(Config, EmptyFileGivesDefaults) {
  auto r = parse("", "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->node.name, "");
  EXPECT_EQ(r->http.listen, "0.0.0.0:7979");
  EXPECT_TRUE(r->http.trust_loopback);
  EXPECT_EQ(r->http.max_header_bytes, 16u * 1024);
  EXPECT_EQ(r->http.max_connections, 512u);
  EXPECT_EQ(r->log.level, "info");
  EXPECT_EQ(r->log.max_files, 5u);
  EXPECT_EQ(r->plugins.enabled, std::vector<std::string>{"replication"});
  EXPECT_TRUE(r->plugins.paths.empty());
  EXPECT_TRUE(r->plugins.settings.empty());
}

TEST(Config, FullValidFile) {
  auto r = parse(R"(
[node]
name = "alice"
[http]
listen = "[::1]:0"
trust_loopback = false
max_header_bytes = 8192
max_body_bytes = 2097152
header_timeout_ms = 5000
body_timeout_ms = 30000
idle_timeout_ms = 15000
max_connections = 64
[log]
level = "debug"
max_file_bytes = 65536
max_files = 3
[plugins]
enabled = ["replication", "ci", "runner-shell"]
paths = ["/opt/mesh/plugins"]
)",
                 "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->node.name, "alice");
  EXPECT_EQ(r->http.listen, "[::1]:0");
  EXPECT_FALSE(r->http.trust_loopback);
  EXPECT_EQ(r->http.max_header_bytes, 8192u);
  EXPECT_EQ(r->http.max_body_bytes, 2097152u);
  EXPECT_EQ(r->http.header_timeout_ms, 5000u);
  EXPECT_EQ(r->http.body_timeout_ms, 30000u);
  EXPECT_EQ(r->http.idle_timeout_ms, 15000u);
  EXPECT_EQ(r->http.max_connections, 64u);
  EXPECT_EQ(r->log.level, "debug");
  EXPECT_EQ(r->log.max_file_bytes, 65536u);
  EXPECT_EQ(r->log.max_files, 3u);
  EXPECT_EQ(r->plugins.enabled, (std::vector<std::string>{"replication", "ci", "runner-shell"}));
  EXPECT_EQ(r->plugins.paths, (std::vector<std::string>{"/opt/mesh/plugins"}));
}

TEST(Config, MalformedTomlNamesFileAndLine) {
  auto msg = parse_error("[node]\nname = \"a\"\n\nlisten = = 3\n");
  EXPECT_CONTAINS(msg, "mesh.toml:4:");
  msg = parse_error("[http]\nlisten = \"unterminated\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2:");
}

TEST(Config, WrongTypeNamesKeyAndLine) {
  auto msg = parse_error("[http]\nlisten = \"0.0.0.0:1\"\ntrust_loopback = \"yes\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:3: http.trust_loopback: expected a boolean, got a string");
  msg = parse_error("[http]\nmax_connections = 1.5\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2: http.max_connections: expected an integer");
  msg = parse_error("http = 3\n");
  EXPECT_CONTAINS(msg, "mesh.toml:1: http: expected a table");
  msg = parse_error("[plugins]\nenabled = \"ci\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2: plugins.enabled: expected an array of strings");
  msg = parse_error("[plugins]\nenabled = [\"ci\", 3]\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2: plugins.enabled[1]: expected a string, got an integer");
}

TEST(Config, UnknownKeysAreErrorsWithTheirLine) {
  auto msg = parse_error("[http]\nlisten = \"0.0.0.0:1\"\n\nmax_conections = 5\n");
  EXPECT_CONTAINS(msg, "mesh.toml:4:");
  EXPECT_CONTAINS(msg, "http.max_conections");
  msg = parse_error("[node]\nname = \"a\"\nnmae = \"b\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:3:");
  EXPECT_CONTAINS(msg, "node.nmae");
  msg = parse_error("[log]\nlevle = \"info\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2:");
  msg = parse_error("[plugins]\nenable = []\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2:");
  EXPECT_CONTAINS(msg, "plugins.enable");
  msg = parse_error("\n[htpp]\nlisten = \"x:1\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:2:");
  EXPECT_CONTAINS(msg, "htpp");
}

TEST(Config, BadValues) {
  auto msg = parse_error("[http]\n\nlisten = \"abc\"\n");
  EXPECT_CONTAINS(msg, "mesh.toml:3: http.listen: expected \"HOST:PORT\", got \"abc\"");
  EXPECT_CONTAINS(parse_error("[http]\nlisten = \"a:70000\"\n"), "mesh.toml:2: http.listen:");
  EXPECT_CONTAINS(parse_error("[http]\nmax_connections = 0\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[http]\nheader_timeout_ms = -1\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[log]\nlevel = \"loud\"\n"), "mesh.toml:2: log.level:");
  EXPECT_CONTAINS(parse_error("[node]\nname = \"\"\n"), "mesh.toml:2: node.name:");
  EXPECT_CONTAINS(parse_error("[plugins]\nenabled = [\"ci\", \"ci\"]\n"), "listed twice");
}

TEST(Config, BadPluginIds) {
  EXPECT_CONTAINS(parse_error("[plugins]\nenabled = [\"Bad_Id\"]\n"),
                  "mesh.toml:2: plugins.enabled: invalid plugin id \"Bad_Id\"");
  EXPECT_CONTAINS(parse_error("[plugins]\n\n[plugins.\"../evil\"]\nx = 1\n"), "mesh.toml:3:");
  EXPECT_TRUE(valid_plugin_id("ci"));
  EXPECT_TRUE(valid_plugin_id("runner-docker"));
  EXPECT_TRUE(valid_plugin_id("0x"));
  EXPECT_FALSE(valid_plugin_id(""));
  EXPECT_FALSE(valid_plugin_id("-ci"));
  EXPECT_FALSE(valid_plugin_id("CI"));
  EXPECT_FALSE(valid_plugin_id("a/b"));
  EXPECT_TRUE(valid_plugin_id(std::string(64, 'a')));
  EXPECT_FALSE(valid_plugin_id(std::string(65, 'a')));
}

TEST(Config, ParseHostPort) {
  auto a = parse_host_port("0.0.0.0:7979");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 7979);
  auto b = parse_host_port("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = parse_host_port("localhost:65535");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port, 65535);
  for (const char* bad : {"abc", ":80", "host:", "host:65536", "host:-1", "host:8x", "::1:80",
                          "[::1]80", "[::1]", "[]:80", "[abc]:80", "a b:80", "host:123456"}) {
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  }
}

TEST(Config, PluginTablesBecomeJson) {
  auto r = parse(R"(
[plugins]
enabled = ["ci"]

[plugins.ci]
name = "x\"y"
jobs = 4
ratio = 0.5
on = true
list = [1, "two", [3]]
when = 1979-05-27T07:32:00Z
day = 1979-05-27
[plugins.ci.nested]
deep = { a = 1 }

[plugins.updater]
)",
                 "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->plugins.settings.count("ci"), 1u);
  auto v = boost::json::parse(r->plugins.settings.at("ci"));
  auto& o = v.as_object();
  EXPECT_EQ(o.at("name").as_string(), "x\"y");
  EXPECT_EQ(o.at("jobs").as_int64(), 4);
  EXPECT_DOUBLE_EQ(o.at("ratio").as_double(), 0.5);
  EXPECT_TRUE(o.at("on").as_bool());
  auto& list = o.at("list").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].as_int64(), 1);
  EXPECT_EQ(list[1].as_string(), "two");
  EXPECT_EQ(list[2].as_array()[0].as_int64(), 3);
  EXPECT_EQ(o.at("when").as_string(), "1979-05-27T07:32:00Z");
  EXPECT_EQ(o.at("day").as_string(), "1979-05-27");
  EXPECT_EQ(o.at("nested").at("deep").at("a").as_int64(), 1);
  EXPECT_EQ(r->plugins.settings.at("updater"), "{}");

  EXPECT_CONTAINS(parse_error("[plugins.ci]\nx = inf\n"), "mesh.toml:2: plugins.ci.x:");
  // A scalar directly under [plugins] is a typo, not plugin settings.
  EXPECT_CONTAINS(parse_error("[plugins]\nci = 3\n"), "[plugins.<id>]");
}

TEST(Config, DefaultTomlParsesAndCarriesTheName) {
  for (std::string name : {"alice", "O'Brien \"the\" \\dev\\", "tab\there", "日本語", "a\nb"}) {
    auto text = default_toml(name);
    auto r = parse(text, "mesh.toml");
    ASSERT_TRUE(r) << name << ": " << r.error().message;
    EXPECT_EQ(r->node.name == name, check_node_name(name).ok()) << name;
    Config defaults;
    EXPECT_EQ(r->http.listen, defaults.http.listen);
    EXPECT_EQ(r->http.max_body_bytes, defaults.http.max_body_bytes);
    EXPECT_EQ(r->http.header_timeout_ms, defaults.http.header_timeout_ms);
    EXPECT_EQ(r->http.body_timeout_ms, defaults.http.body_timeout_ms);
    EXPECT_EQ(r->http.idle_timeout_ms, defaults.http.idle_timeout_ms);
    EXPECT_EQ(r->http.max_connections, defaults.http.max_connections);
    EXPECT_EQ(r->http.max_header_bytes, defaults.http.max_header_bytes);
    EXPECT_EQ(r->http.trust_loopback, defaults.http.trust_loopback);
    EXPECT_EQ(r->log.level, defaults.log.level);
    EXPECT_EQ(r->log.max_file_bytes, defaults.log.max_file_bytes);
    EXPECT_EQ(r->log.max_files, defaults.log.max_files);
    EXPECT_EQ(r->plugins.enabled, std::vector<std::string>{"replication"});
  }
  // Invalid UTF-8 must still give a parseable file.
  auto r = parse(default_toml("bad\xff\xfe"), "mesh.toml");
  EXPECT_TRUE(r) << r.error().message;
  EXPECT_NE(default_toml("x").find("# "), std::string::npos);  // the comments are kept
}

TEST(Config, NodeNames) {
  EXPECT_TRUE(check_node_name("alice"));
  EXPECT_FALSE(check_node_name(""));
  EXPECT_FALSE(check_node_name("a\nb"));
  EXPECT_FALSE(check_node_name(std::string(129, 'a')));
}

TEST(Config, LoadFile) {
  auto dir = fs::temp_directory_path() / ("mesh-cfg-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto file = dir / "mesh.toml";
  std::ofstream(file) << default_toml("bob");
  auto r = load(file);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->node.name, "bob");

  std::ofstream(file) << "[http]\nlisten = 5\n";
  r = load(file);
  ASSERT_FALSE(r);
  EXPECT_CONTAINS(r.error().message, "mesh.toml:2: http.listen");

  {
    std::ofstream out(file);
    out << "# padding\n" << std::string(kMaxConfigBytes, '#') << "\n";
  }
  r = load(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit);

  r = load(dir / "missing.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  fs::remove_all(dir);
}

TEST(Config, AdvertiseAddressesAreValidated) {
  auto ok = parse("[http]\nadvertise = [\"10.0.0.2:7979\", \"[fd00::1]:7979\"]\n", "mesh.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->http.advertise.size(), 2u);
  auto bad = parse("[http]\nadvertise = [\n  \"10.0.0.2\",\n]\n", "mesh.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("mesh.toml:3:"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parse("[http]\nadvertise = [\"h:0\"]\n", "mesh.toml"));
}

TEST(Config, DiscoveryTable) {
  auto ok = parse(
      "[discovery]\nenabled = false\nport = 17978\ninterval_ms = 2000\n"
      "targets = [\"239.255.42.42\"]\nmulticast_if = \"127.0.0.1\"\n",
      "mesh.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(ok->discovery.enabled);
  EXPECT_EQ(ok->discovery.port, 17978);
  EXPECT_EQ(ok->discovery.interval_ms, 2000u);
  EXPECT_EQ(ok->discovery.targets, std::vector<std::string>{"239.255.42.42"});
  auto bad = parse("[discovery]\ninterval_ms = 5\n", "mesh.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("mesh.toml:2:"), std::string::npos);
  EXPECT_FALSE(parse("[discovery]\nportt = 1\n", "mesh.toml"));
}

TEST(Config, PluginExecutorAndStopDeadline) {
  auto r = parse("", "mesh.toml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->plugins.executor_threads, 2u);
  EXPECT_EQ(r->plugins.stop_timeout_ms, 35'000u);
  r = parse("[plugins]\nexecutor_threads = 16\nstop_timeout_ms = 100\n", "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->plugins.executor_threads, 16u);
  EXPECT_EQ(r->plugins.stop_timeout_ms, 100u);
  EXPECT_CONTAINS(parse_error("[plugins]\nexecutor_threads = 0\n"),
                  "mesh.toml:2: plugins.executor_threads: 0 is out of range (1 .. 16)");
  EXPECT_CONTAINS(parse_error("[plugins]\nexecutor_threads = 17\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[plugins]\nstop_timeout_ms = 99\n"), "out of range");
}

// Plugin settings keep their lines, so a plugin's refusal can point at the line it is about.
TEST(Config, PluginSettingLinesLocateRefusals) {
  auto r = parse(R"([plugins]
enabled = ["replication"]

[plugins.replication]
push_wait_ms = 100
max_push_bytes = -1

[plugins.replication.limits]
repos = 3

[plugins.ci]
)",
                 "/home/u/.mesh/mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  const auto& p = r->plugins;
  EXPECT_EQ(p.source, "/home/u/.mesh/mesh.toml");
  EXPECT_EQ(p.setting_lines.at("replication").at("push_wait_ms"), 5u);
  EXPECT_EQ(p.setting_lines.at("replication").at("max_push_bytes"), 6u);
  EXPECT_EQ(p.setting_lines.at("replication").at("limits.repos"), 9u);
  EXPECT_EQ(p.locate("replication", "max_push_bytes: must be positive"),
            "/home/u/.mesh/mesh.toml:6: [plugins.replication] max_push_bytes: must be positive");
  EXPECT_EQ(p.locate("replication", "limits.repos: at most 2"),
            "/home/u/.mesh/mesh.toml:9: [plugins.replication] limits.repos: at most 2");
  // A message that names no setting of the table points at the table itself.
  EXPECT_EQ(p.locate("ci", "token: is required"),
            "/home/u/.mesh/mesh.toml:11: [plugins.ci] token: is required");
  auto replication_table = p.setting_lines.at("replication").at("");
  EXPECT_EQ(p.locate("replication", "the settings are inconsistent"),
            "/home/u/.mesh/mesh.toml:" + std::to_string(replication_table) +
                ": [plugins.replication] the settings are inconsistent");
  // A plugin without a table: the file, no line.
  EXPECT_EQ(p.locate("issues", "board: is required"),
            "/home/u/.mesh/mesh.toml: [plugins.issues] board: is required");
}

// [runner]: off by default (a fresh node runs nobody's jobs), every key validated with its line.
TEST(Config, RunnerTable) {
  auto d = parse("", "mesh.toml");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->runner.enabled);
  EXPECT_EQ(d->runner.max_concurrent_jobs, 2u);
  EXPECT_EQ(d->runner.job_log_max_bytes, 4u << 20);
  // The shipped mesh.toml says the same.
  auto shipped = parse(default_toml("x"), "mesh.toml");
  ASSERT_TRUE(shipped) << shipped.error().message;
  EXPECT_FALSE(shipped->runner.enabled);
  EXPECT_EQ(shipped->runner.max_concurrent_jobs, 2u);

  auto r = parse(R"([runner]
enabled = true
modes = ["shell", "docker"]
labels = ["linux", "x86_64", "big.box"]
max_concurrent_jobs = 8
env_passthrough = ["HTTP_PROXY", "no_proxy"]
job_log_max_bytes = 65536
)",
                 "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->runner.enabled);
  EXPECT_EQ(r->runner.modes, (std::vector<std::string>{"shell", "docker"}));
  EXPECT_EQ(r->runner.labels, (std::vector<std::string>{"linux", "x86_64", "big.box"}));
  EXPECT_EQ(r->runner.max_concurrent_jobs, 8u);
  EXPECT_EQ(r->runner.env_passthrough, (std::vector<std::string>{"HTTP_PROXY", "no_proxy"}));
  EXPECT_EQ(r->runner.job_log_max_bytes, 65536u);

  EXPECT_CONTAINS(parse_error("[runner]\nenabled = 1\n"), "mesh.toml:2: runner.enabled: expected");
  EXPECT_CONTAINS(parse_error("[runner]\nmodes = [\"shell\",\n \"Shell\"]\n"),
                  "mesh.toml:3: runner.modes: \"Shell\" is not a mode");
  EXPECT_CONTAINS(parse_error("[runner]\nmodes = [\"shell\", \"shell\"]\n"), "twice");
  EXPECT_CONTAINS(parse_error("[runner]\nlabels = [\"a b\"]\n"), "runner.labels: \"a b\" is not");
  EXPECT_CONTAINS(parse_error("[runner]\nenv_passthrough = [\"1X\"]\n"),
                  "runner.env_passthrough: \"1X\" is not a variable name");
  EXPECT_CONTAINS(parse_error("[runner]\nmax_concurrent_jobs = 0\n"), "out of range (1 .. 64)");
  EXPECT_CONTAINS(parse_error("[runner]\njob_log_max_bytes = 100\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[runner]\n\nslots = 3\n"),
                  "mesh.toml:3: unknown key \"runner.slots\"");
}

// [gossip]: the per-member limits, defaults as the shipped file says, every key validated with
// its line.
TEST(Config, GossipTable) {
  auto d = parse("", "mesh.toml");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->gossip.max_events_per_minute, 1200u);
  EXPECT_EQ(d->gossip.event_burst, 10'000u);
  EXPECT_EQ(d->gossip.max_feed_bytes_per_day, std::uint64_t{512} << 20);
  EXPECT_EQ(d->gossip.max_live_per_minute, 1800u);
  EXPECT_EQ(d->gossip.max_sync_per_minute, 60u);
  auto shipped = parse(default_toml("x"), "mesh.toml");
  ASSERT_TRUE(shipped) << shipped.error().message;
  EXPECT_EQ(shipped->gossip.max_events_per_minute, d->gossip.max_events_per_minute);
  EXPECT_EQ(shipped->gossip.event_burst, d->gossip.event_burst);
  EXPECT_EQ(shipped->gossip.max_feed_bytes_per_day, d->gossip.max_feed_bytes_per_day);
  EXPECT_EQ(shipped->gossip.max_live_per_minute, d->gossip.max_live_per_minute);
  EXPECT_EQ(shipped->gossip.max_sync_per_minute, d->gossip.max_sync_per_minute);

  auto r = parse(R"([gossip]
max_events_per_minute = 600
event_burst = 200
max_feed_bytes_per_day = 1048576
max_live_per_minute = 30
max_sync_per_minute = 5
)",
                 "mesh.toml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->gossip.max_events_per_minute, 600u);
  EXPECT_EQ(r->gossip.event_burst, 200u);
  EXPECT_EQ(r->gossip.max_feed_bytes_per_day, 1u << 20);
  EXPECT_EQ(r->gossip.max_live_per_minute, 30u);
  EXPECT_EQ(r->gossip.max_sync_per_minute, 5u);

  EXPECT_CONTAINS(parse_error("[gossip]\n\nmax_events_per_minute = 0\n"),
                  "mesh.toml:3: gossip.max_events_per_minute: 0 is out of range (1 .. 1000000)");
  EXPECT_CONTAINS(parse_error("[gossip]\nevent_burst = \"lots\"\n"),
                  "mesh.toml:2: gossip.event_burst: expected an integer");
  EXPECT_CONTAINS(parse_error("[gossip]\nmax_feed_bytes_per_day = -1\n"),
                  "mesh.toml:2: gossip.max_feed_bytes_per_day: -1 is out of range");
  EXPECT_CONTAINS(parse_error("[gossip]\nmax_live_per_minute = 1000001\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[gossip]\nmax_sync_per_minute = 0\n"), "out of range");
  EXPECT_CONTAINS(parse_error("[gossip]\nmax_events = 5\n"),
                  "mesh.toml:2: unknown key \"gossip.max_events\"");
  EXPECT_CONTAINS(parse_error("gossip = 3\n"), "mesh.toml:1: gossip: expected a table");
}

// toml++ 3.3.0 asserts a precondition on these in a debug build (found by fuzz_config_load;
// upstream tomlplusplus PR #301); the library the daemon links reports a normal error.
TEST(Config, MalformedTableHeadersAreErrorsWithTheirLine) {
  for (const char* text : {"[# x]\n", "[[[1]]]\n", "[[=\n", "a = 1\n[ # x]\n"}) {
    auto r = parse(text, "mesh.toml");
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().message.starts_with("mesh.toml:")) << r.error().message;
    EXPECT_NE(r.error().message.find("key"), std::string::npos) << r.error().message;
  }
}

// toml++ 3.3.0 reaches __builtin_unreachable() on some non-ASCII characters outside strings
// (fuzz_config_load, UBSan): the loader refuses them first, with the line and column, and
// keeps them where TOML allows them.
TEST(Config, NonAsciiOutsideStringsIsRefusedWithItsPlaceAndAllowedInStringsAndComments) {
  for (const char* text :
       {"a = [1, 2\xca\x8a]\n", "[node]\nname = \"x\"\n\xc3\xa9 = 1\n", "a = 1 \xe3\x80\x80\n"}) {
    auto r = parse(text, "mesh.toml");
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().message.starts_with("mesh.toml:")) << r.error().message;
    EXPECT_NE(r.error().message.find("non-ASCII character outside a string"), std::string::npos)
        << r.error().message;
  }
  auto at = parse("[node]\nname = \"x\"\n\xc3\xa9 = 1\n", "mesh.toml");
  EXPECT_TRUE(at.error().message.starts_with("mesh.toml:3:1:")) << at.error().message;
  const char* fine =
      "# caf\xc3\xa9 comment\n[node]\nname = \"bob's \xc3\xa9 laptop\" # \xe2\x9c\x93\n"
      "[plugins.x]\nlit = 'caf\xc3\xa9'\nml = \"\"\"\nl\xc3\xa9\n\"\"\"\n"
      "mll = \'\'\'\n\xc3\xa9\'\'\'\nesc = \"a\\\"\xc3\xa9\"\n";
  auto ok = parse(fine, "mesh.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->node.name, "bob's \xc3\xa9 laptop");
}
