// Small helpers shared by the host functions: the limits the host enforces, {ptr,len} views,
// error codes and the grammars of names a plugin hands the host. Internal to the plugin module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"
#include "mesh/plugin.h"

namespace mesh::plugin {

inline constexpr std::size_t kMaxSettingsBytes = 1 << 20;
inline constexpr std::size_t kMaxPendingCalls = 1024;  // per plugin: queued + running + unanswered
inline constexpr std::size_t kMaxTimers = 1024;
inline constexpr std::size_t kMaxRoutes = 256;
inline constexpr std::size_t kMaxVerbs = 256;
inline constexpr std::size_t kMaxLogBytes = 16 * 1024;
inline constexpr std::size_t kMaxErrorBytes = MESH_ERR_CAP;
inline constexpr std::size_t kMaxResponseHeaders = 100;
inline constexpr std::size_t kMaxResponseBody = 64u << 20;
inline constexpr std::uint64_t kMaxRouteBody = 1ull << 30;
// Streamed bodies are never held in memory, so their cap only bounds what one request may send.
inline constexpr std::uint64_t kMaxStreamBody = 64ull << 30;
inline constexpr std::uint64_t kMaxTimerMs = 30ull * 24 * 3600 * 1000;
inline constexpr std::size_t kMaxSubscriptions = 64;
inline constexpr std::size_t kMaxSubscriptionName = 48;
inline constexpr std::size_t kMaxTopic = 64;
inline constexpr std::size_t kMaxPayload = 64 * 1024;
inline constexpr std::size_t kMaxLateVerdicts = 64;  // per subscription
inline constexpr std::size_t kMaxStreamCalls =
    4096;                                          // per plugin: a backstop, plugins cap their own
inline constexpr std::size_t kMaxPeerConns = 256;  // per plugin, open or connecting
inline constexpr std::size_t kMaxHostPort = 300;
inline constexpr std::uint64_t kMaxPeerTimeoutMs = 24ull * 3600 * 1000;
inline constexpr std::size_t kMaxHeartbeatValue = 8 * 1024;
inline constexpr uint32_t kKnownRouteFlags = MESH_ROUTE_STREAM | MESH_ROUTE_LOCAL;
inline constexpr std::size_t kMaxStatusJson = 256 * 1024;
inline constexpr std::size_t kMaxStatusText = 64 * 1024;
inline constexpr std::size_t kMaxStatusHtml = 256 * 1024;

std::string abi_text(std::uint32_t major, std::uint32_t minor);

inline std::string_view as_view(mesh_str s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline mesh_str as_str(std::string_view s) {
  return mesh_str{s.data(), s.size()};
}

const char* code_name(int32_t rc);
int32_t code_of(Errc e);

// Writes a NUL-terminated message into a caller-owned buffer.
void set_err(char* err, std::size_t cap, std::string_view msg);
// The message a plugin left in our buffer, made safe to log and show.
std::string plugin_message(const char* err, std::size_t cap);
// The copy-into-your-buffer convention of config_json and friends.
int32_t copy_out(const std::string& value, char* buf, size_t cap, size_t* needed);

bool valid_method(std::string_view m);
bool valid_route_path(std::string_view p);
bool valid_verb(std::string_view v);
// The gossip topic grammar: [a-z][a-z0-9._-]{0,63}.
bool valid_topic(std::string_view t);
// Topics whose events the core itself interprets: a plugin publishing them could forge
// membership or peer liveness.
bool reserved_topic(std::string_view t);
bool valid_subscription_name(std::string_view n);
bool valid_pattern(std::string_view p);
bool valid_header_name(std::string_view n);
bool valid_header_value(std::string_view v);
// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace mesh::plugin
