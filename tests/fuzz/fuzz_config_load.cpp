// libFuzzer target: the config loader (core/config) on arbitrary mesh.toml text, toml++ included
// (built header-only here, so its parser is instrumented too). Every error must name the file, a
// loaded config's plugin tables must be JSON, and locate() must hold for any message.
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "mesh/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = mesh::config::parse(text, "fuzz.toml");
  if (!cfg) {
    if (!cfg.error().message.starts_with("fuzz.toml")) __builtin_trap();
    return 0;
  }
  for (const auto& [id, json] : cfg->plugins.settings) {
    if (!mesh::config::valid_plugin_id(id)) __builtin_trap();
    boost::system::error_code ec;
    auto v = boost::json::parse(json, ec);
    if (ec || !v.is_object()) __builtin_trap();
    if (!cfg->plugins.locate(id, std::string(text.substr(0, 40))).starts_with("fuzz.toml")) {
      __builtin_trap();
    }
  }
  for (const auto& a : cfg->http.advertise) {
    if (!mesh::config::parse_host_port(a)) __builtin_trap();
  }
  if (!mesh::config::parse_host_port(cfg->http.listen)) __builtin_trap();
  return 0;
}
