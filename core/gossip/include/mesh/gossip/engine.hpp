// The gossip engine: stores and relays signed events between links, runs anti-entropy and
// heartbeats, keeps peer states and delivers events to subscribers. Transport-agnostic: a link
// is a function that sends one message; the link manager owns the sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/base/result.hpp"
#include "mesh/gossip/event.hpp"
#include "mesh/gossip/limits.hpp"
#include "mesh/gossip/roster.hpp"

namespace mesh::gossip {

// Topics that are never stored: pushed to live links and live subscribers ("heartbeat",
// "presence", "*.live"), or, for local topics, to this node's own subscribers only.
bool is_ephemeral_topic(std::string_view topic);
// Node-local topics, "local" and "local.*": delivered only to this node's subscribers, never
// stored, never sent to a link; a peer's event on one is refused.
bool is_local_topic(std::string_view topic);

// The signed live event a node sends when it stops cleanly (relayed like any live event):
// members mark it down at once instead of waiting for its heartbeats to run out.
inline constexpr std::string_view kGoodbyeTopic = "heartbeat.bye";

struct PeerState {
  Member member;
  bool up = false;                      // heard from within the last 15 s
  bool linked = false;                  // a link is attached right now
  std::uint64_t linked_since_ms = 0;    // when the attached link came up (0: not linked)
  std::uint64_t unlinked_since_ms = 0;  // when its last link went down (0: none has)
  bool left = false;  // it said goodbye (stopped cleanly) and has not been heard from since
  std::uint64_t last_seen_ms = 0;
  std::string heartbeat;  // the last heartbeat payload (JSON), empty if none
};

// Sends one link message; false when the link is closed or its queue is full (the engine then
// relies on the next anti-entropy round instead of buffering without bound).
using LinkSend = std::function<bool(std::string message)>;

struct EngineOptions {
  std::filesystem::path root;  // feeds live in <root>/feeds
  const identity::Identity* self = nullptr;
  std::string self_name;
  std::function<std::uint64_t()> now_ms;  // wall clock; injectable for tests
  // What this node offers, carried in every heartbeat (e.g. running plugins, runner labels).
  std::function<std::vector<std::string>()> capabilities;
  // Plugin id -> a JSON value (text), carried as the heartbeat's "plugins" object. Values that
  // do not parse are left out, and the largest ones when the heartbeat would exceed an event.
  std::function<std::map<std::string, std::string>()> heartbeat_plugins;
  std::chrono::milliseconds heartbeat_interval{5'000};
  std::chrono::milliseconds anti_entropy_interval{30'000};
  std::chrono::milliseconds up_window{15'000};
  Limits limits;  // what one member may make this node store or do ([gossip] in mesh.toml)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(EngineOptions options);
  virtual ~Engine() = default;

  // Local publish. Stored topics are appended (fsync'd) and pushed to every link; ephemeral
  // topics are pushed only; local topics reach this node's subscribers only. Returns the signed
  // event.
  virtual Result<Event> publish(std::string_view topic, std::span<const std::uint8_t> payload) = 0;

  // Link lifecycle, called by the link manager. link_up sends our hello (version vector).
  virtual void link_up(const PublicKey& peer, LinkSend send) = 0;
  virtual void link_down(const PublicKey& peer) = 0;
  // One message from a link. Malformed or rejected input is counted, never thrown.
  virtual void on_message(const PublicKey& peer, std::string_view message) = 0;
  // Drives heartbeats, periodic anti-entropy and up/down; call about once a second.
  virtual void tick() = 0;
  // Forces an anti-entropy round on every link now.
  virtual void sync_now() = 0;
  // Tells every member that this node is stopping (kGoodbyeTopic), so they count it down now.
  // Queued on the links like any message; the caller lets them drain before closing.
  virtual void goodbye() = 0;

  // Stored events matching `topic_pattern` reach `handler` exactly once per node, in per-origin
  // seq order, through the persisted cursor `name`; ephemeral events reach it live (a bounded
  // queue per subscription, oldest dropped first; the handler's result is ignored for them).
  // Patterns as topic_matches: "ci" also matches "ci.live". Returning false for a stored event
  // retries it about a second later. Errc::exists for a taken name, Errc::limit past 256.
  // Each subscription has a delivery thread of its own: a handler that blocks delays only its
  // own subscription, and handlers of different subscriptions may run at the same time.
  using Handler = std::function<bool(const Event&)>;
  virtual Status subscribe(std::string name, std::string topic_pattern, Handler handler) = 0;
  // After it returns no handler call of that subscription starts, and the one in flight has
  // finished (unless called from that handler itself). The cursor is kept.
  virtual void unsubscribe(const std::string& name) = 0;

  virtual const Roster& roster() const = 0;
  virtual std::vector<PeerState> peers() const = 0;  // members other than self
  // Rejected inputs per reason ("bad_signature", "not_member", ...; see RejectReason), plus
  // "live_dropped": ephemeral events dropped because subscribers fell behind.
  virtual std::map<std::string, std::uint64_t> rejected() const = 0;
  // Members that hit a limit or sent a clock too far ahead, and the totals per kind ("events",
  // "feed_bytes", "live", "sync"; Lamport refusals are rejected()["lamport"]).
  virtual std::vector<Offender> offenders() const = 0;
  virtual std::map<std::string, std::uint64_t> throttled() const = 0;
  virtual void set_limits(const Limits& limits) = 0;  // on reload; buckets keep their levels
  // Called (on the engine's thread) after the roster changed: dial new members, drop removed.
  virtual void on_roster_change(std::function<void()> callback) = 0;

  // Stops the delivery threads; no callbacks after this returns (unless called from a callback:
  // then that callback is the last). on_message and publish keep working (no delivery).
  virtual void stop() = 0;
};

}  // namespace mesh::gossip
