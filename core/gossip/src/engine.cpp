// The gossip engine. About 750 lines on purpose: links, anti-entropy, live relaying and
// heartbeats share one lock and one state (links_, seen_), and splitting them would spread that
// state over files; subscription delivery, which has its own, is in subscriptions.cpp.
#include "mesh/gossip/engine.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "heartbeat.hpp"
#include "mesh/gossip/cursors.hpp"
#include "mesh/gossip/feed_store.hpp"
#include "mesh/gossip/link_protocol.hpp"
#include "origin_limits.hpp"
#include "subscriptions.hpp"

namespace mesh::gossip {
namespace {

constexpr std::size_t kMaxLinks = 4096;
constexpr std::size_t kRecentLiveCap = 8192;  // (origin, seq) of ephemeral events seen
constexpr std::size_t kRoundBytes = 4 << 20;  // per link per anti-entropy round
// A peer's last heartbeat is kept whole (plugin values make it larger than it used to be);
// a longer payload cannot be a valid event anyway.
constexpr std::size_t kMaxHeartbeatKept = kMaxPayload;
constexpr std::size_t kMaxSeen = kMaxFeeds;

std::uint64_t system_now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

using SendPtr = std::shared_ptr<const LinkSend>;

bool send_on(const SendPtr& send, std::string message) {
  if (!send || !*send || message.empty()) return false;
  try {
    return (*send)(std::move(message));
  } catch (const std::exception& e) {
    spdlog::warn("gossip: link send threw: {}", e.what());
    return false;
  }
}

}  // namespace

bool is_local_topic(std::string_view topic) {
  return topic == "local" || topic.starts_with("local.");
}

bool is_ephemeral_topic(std::string_view topic) {
  return topic == "heartbeat" || topic == kGoodbyeTopic || topic == "presence" ||
         topic.ends_with(".live") || is_local_topic(topic);
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineOptions options, std::unique_ptr<FeedStore> store,
             std::unique_ptr<Cursors> cursors)
      : opts_(std::move(options)),
        self_(opts_.self->public_key()),
        store_(std::move(store)),
        cursors_(std::move(cursors)),
        subs_(*store_, *cursors_),
        roster_(self_),
        limits_(opts_.limits, [this](const PublicKey& k) { return describe(k); }) {
    // Ephemeral events never touch the feed, so they get their own seq space: microseconds of
    // the wall clock at open, +1 per event. Unique within a run and, as long as the clock does
    // not jump back, across restarts; peers only use it to drop relayed duplicates.
    live_seq_ = now() * 1000;
  }

  ~EngineImpl() override { stop(); }

  Status rebuild_roster() {
    std::vector<Event> roster_events;
    for (const auto& [origin, last] : store_->version_vector()) {
      for (std::uint64_t from = 1; from <= last;) {
        auto batch = store_->read(origin, from, kMaxReadCount);
        if (!batch) return batch.error();
        if (batch->empty()) break;
        from = batch->back().seq + 1;
        for (auto& e : *batch) {
          if (e.topic == kRosterTopic) roster_events.push_back(std::move(e));
        }
      }
    }
    roster_.apply(roster_events);
    return {};
  }

  void start() {
    thread_ = std::thread([this] { roster_loop(); });
  }

  // --- publishing ------------------------------------------------------------------------------

  Result<Event> publish(std::string_view topic, std::span<const std::uint8_t> payload) override {
    try {
      if (!valid_topic(topic)) return make_error(Errc::invalid, "invalid topic");
      if (is_ephemeral_topic(topic)) return publish_live(topic, payload);
      auto ev = store_->append_own(*opts_.self, topic, payload, now());
      if (!ev) return ev.error();
      if (topic == kRosterTopic && roster_.apply(*ev)) roster_changed();
      std::vector<Event> one{*ev};
      relay_stored(one, nullptr);
      wake_delivery();
      return ev;
    } catch (const std::exception& e) {
      return make_error(Errc::internal, std::string("publish: ") + e.what());
    }
  }

  Result<Event> publish_live(std::string_view topic, std::span<const std::uint8_t> payload) {
    std::uint64_t seq = 0;
    {
      std::lock_guard lock(mu_);
      seq = ++live_seq_;
    }
    auto ev = sign_event(*opts_.self, seq, store_->lamport(), now(), topic, payload);
    if (!ev) return ev.error();
    {
      std::lock_guard lock(mu_);
      remember_live_locked(ev->origin, ev->seq);
    }
    subs_.offer_live(*ev);
    if (is_local_topic(topic)) return ev;  // this node's subscribers only
    std::string msg = encode_link(LiveMsg{encode(*ev)});
    for (const auto& [peer, send] : link_sends()) send_on(send, msg);
    return ev;
  }

  // --- links -----------------------------------------------------------------------------------

  void link_up(const PublicKey& peer, LinkSend send) override {
    SendPtr ptr = std::make_shared<const LinkSend>(std::move(send));
    bool push = false;
    {
      std::lock_guard lock(mu_);
      if (!links_.count(peer) && links_.size() >= kMaxLinks) {
        spdlog::warn("gossip: too many links; refusing {}", peer.short_id());
        return;
      }
      Link& l = links_[peer];
      if (!l.send) l.up_ms = now();
      l.send = ptr;
      // A heartbeat at the next tick: members that hear us only through this peer learn now
      // that we are up (and the peer's relays learn whom we hear directly).
      last_heartbeat_ms_ = 0;
      push = l.have_vv;  // their hello came first
      if (push) l.pending = true;
    }
    HelloMsg hello;
    hello.name = opts_.self_name.size() <= kMaxLinkName ? opts_.self_name : std::string();
    hello.vv = store_->version_vector();
    std::string msg = encode_link(hello);
    if (msg.empty()) spdlog::warn("gossip: cannot encode hello (version vector too large?)");
    send_on(ptr, std::move(msg));
    if (push) push_round(peer);
  }

  void link_down(const PublicKey& peer) override {
    std::lock_guard lock(mu_);
    auto it = links_.find(peer);
    if (it == links_.end()) return;
    if (it->second.send && (seen_.count(peer) || seen_.size() < kMaxSeen)) {
      seen_[peer].link_down_ms = now();
    }
    links_.erase(it);
    // The next tick says so in a heartbeat: until then relays think we hear `peer` directly
    // and leave us out of its live events (relay_targets).
    last_heartbeat_ms_ = 0;
  }

  void on_message(const PublicKey& peer, std::string_view message) override {
    try {
      handle_message(peer, message);
    } catch (const std::exception& e) {
      spdlog::warn("gossip: message from {} failed: {}", peer.short_id(), e.what());
      count(RejectReason::io);
    }
  }

  void tick() override {
    try {
      std::uint64_t t = now();
      bool beat = false, sync = false;
      std::vector<PublicKey> pending;
      {
        std::lock_guard lock(mu_);
        if (last_heartbeat_ms_ == 0 ||
            t >=
                last_heartbeat_ms_ + static_cast<std::uint64_t>(opts_.heartbeat_interval.count())) {
          beat = true;
          last_heartbeat_ms_ = t;
        }
        if (last_sync_ms_ == 0 ||
            t >= last_sync_ms_ + static_cast<std::uint64_t>(opts_.anti_entropy_interval.count())) {
          sync = true;
          last_sync_ms_ = t;
        }
        for (const auto& [peer, l] : links_) {
          if (l.pending && l.send) pending.push_back(peer);
        }
      }
      if (beat) send_heartbeat();
      if (sync) sync_now();
      for (const auto& peer : pending) push_round(peer);
    } catch (const std::exception& e) {
      spdlog::warn("gossip: tick failed: {}", e.what());
    }
  }

  void goodbye() override {
    if (auto r = publish_live(kGoodbyeTopic, {}); !r) {
      spdlog::warn("gossip: goodbye: {}", r.error().message);
    }
  }

  void sync_now() override {
    std::string msg = encode_link(VvMsg{store_->version_vector()});
    if (msg.empty()) {
      spdlog::warn("gossip: version vector too large to send");
      return;
    }
    std::vector<PublicKey> pending;
    for (const auto& [peer, send] : link_sends()) send_on(send, msg);
    {
      std::lock_guard lock(mu_);
      for (const auto& [peer, l] : links_) {
        if (l.pending && l.send) pending.push_back(peer);
      }
    }
    for (const auto& peer : pending) push_round(peer);
  }

  // --- subscriptions ---------------------------------------------------------------------------

  Status subscribe(std::string name, std::string topic_pattern, Handler handler) override {
    if (!valid_topic(name)) return make_error(Errc::invalid, "invalid subscriber name");
    if (topic_pattern != "*" && !valid_topic(topic_pattern)) {
      return make_error(Errc::invalid, "invalid topic pattern");
    }
    if (!handler) return make_error(Errc::invalid, "no handler");
    return subs_.add(std::move(name), std::move(topic_pattern), std::move(handler));
  }

  void unsubscribe(const std::string& name) override { subs_.remove(name); }

  // --- state -----------------------------------------------------------------------------------

  const Roster& roster() const override { return roster_; }

  std::vector<PeerState> peers() const override {
    std::uint64_t t = now();
    auto members = roster_.members();
    std::lock_guard lock(mu_);
    std::vector<PeerState> out;
    for (auto& m : members) {
      if (m.key == self_) continue;
      PeerState p;
      if (auto s = seen_.find(m.key); s != seen_.end()) {
        p.last_seen_ms = s->second.last_seen_ms;
        p.heartbeat = s->second.heartbeat;
        p.left = s->second.left;
        p.unlinked_since_ms = s->second.link_down_ms;
      }
      p.up = !p.left && p.last_seen_ms > 0 &&
             t <= p.last_seen_ms + static_cast<std::uint64_t>(opts_.up_window.count());
      auto l = links_.find(m.key);
      p.linked = l != links_.end() && l->second.send;
      if (p.linked) p.linked_since_ms = l->second.up_ms;
      p.member = std::move(m);
      out.push_back(std::move(p));
    }
    return out;
  }

  std::map<std::string, std::uint64_t> rejected() const override {
    std::lock_guard lock(mu_);
    std::map<std::string, std::uint64_t> out;
    for (const auto& [reason, n] : rejected_) out[std::string(to_string(reason))] = n;
    if (auto dropped = subs_.live_dropped()) out["live_dropped"] = dropped;
    return out;
  }

  std::vector<Offender> offenders() const override { return limits_.offenders(); }
  std::map<std::string, std::uint64_t> throttled() const override { return limits_.throttled(); }
  void set_limits(const Limits& limits) override { limits_.set(limits); }

  void on_roster_change(std::function<void()> callback) override {
    std::lock_guard lock(mu_);
    roster_cb_ = std::move(callback);
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    subs_.stop();
    // From the roster callback the loop ends when the callback returns; the destructor (on
    // another thread) joins it.
    if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
  }

 private:
  struct Link {
    SendPtr send;            // null until link_up (a hello may arrive first)
    VersionVector their_vv;  // what the peer has, as far as we know
    bool have_vv = false;
    bool pending = false;     // an anti-entropy round is unfinished (budget or backpressure)
    bool pushing = false;     // a round is running on some thread
    std::uint64_t up_ms = 0;  // when link_up attached it
  };
  struct Seen {
    std::uint64_t last_seen_ms = 0;
    std::string heartbeat;
    // A goodbye came (with this live seq): down until a later heartbeat or a new link's hello.
    bool left = false;
    std::uint64_t bye_seq = 0;
    std::uint64_t link_down_ms = 0;  // when its last link went down
    std::set<std::string> linked;    // short ids its last heartbeat said it has links to
  };

  std::uint64_t now() const { return opts_.now_ms ? opts_.now_ms() : system_now_ms(); }

  std::string describe(const PublicKey& key) const {
    auto m = roster_.find(key);
    return (m ? m->name + " " : std::string()) + "(" + key.id() + ")";
  }

  // The next event of its origin, verified: within the Lamport bound and the origin's limits?
  // Refusals are counted and recorded against the origin; the event is fetched again later
  // (anti-entropy), so a throttled origin is slowed down, not cut off.
  bool admissible(const Event& ev, std::uint64_t t) {
    std::uint64_t local = store_->lamport();
    if (!lamport_acceptable(ev.lamport, local)) {
      count(RejectReason::lamport);
      limits_.lamport_refused(ev.origin, ev.lamport, local, t);
      return false;
    }
    if (ev.origin == self_) return true;  // our own events, come back from a peer
    return limits_.admit_stored(ev.origin, kEventOverhead + ev.topic.size() + ev.payload.size(), t);
  }

  void count(RejectReason r, std::uint64_t n = 1) {
    std::lock_guard lock(mu_);
    rejected_[r] += n;
  }

  std::vector<std::pair<PublicKey, SendPtr>> link_sends(const PublicKey* except = nullptr) {
    std::vector<std::pair<PublicKey, SendPtr>> out;
    std::lock_guard lock(mu_);
    for (const auto& [peer, l] : links_) {
      if (l.send && (!except || peer != *except)) out.emplace_back(peer, l.send);
    }
    return out;
  }

  // Marks `key` as heard from at t. A member that said goodbye stays down until `revive` (its
  // next heartbeat, or the hello of a new link): messages it queued before leaving, or a
  // relayed copy of an older heartbeat, do not bring it back.
  void touch_locked(const PublicKey& key, std::uint64_t t, bool revive = true) {
    if (!seen_.count(key) && seen_.size() >= kMaxSeen) return;
    Seen& s = seen_[key];
    if (s.left && !revive) return;
    s.left = false;
    s.last_seen_ms = t;
  }

  void handle_message(const PublicKey& peer, std::string_view message) {
    auto decoded = decode_link(message);
    {
      std::lock_guard lock(mu_);
      touch_locked(peer, now(), decoded && std::holds_alternative<HelloMsg>(*decoded));
    }
    if (!decoded) {
      spdlog::debug("gossip: bad message from {}: {}", peer.short_id(), decoded.error().message);
      count(reject_reason(decoded.error()));
      return;
    }
    std::visit(
        [&](auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, HelloMsg>) {
            on_vv(peer, std::move(m.vv));
          } else if constexpr (std::is_same_v<T, VvMsg>) {
            if (limits_.admit_sync(peer, now())) on_vv(peer, std::move(m.vv));
          } else if constexpr (std::is_same_v<T, EventsMsg>) {
            on_events(peer, m);
          } else if constexpr (std::is_same_v<T, LiveMsg>) {
            on_live(peer, m);
          } else if (limits_.admit_sync(peer, now())) {
            on_want(peer, m);
          }
        },
        *decoded);
  }

  void on_vv(const PublicKey& peer, VersionVector vv) {
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(peer);
      if (it == links_.end()) {
        if (links_.size() >= kMaxLinks) return;
        it = links_.emplace(peer, Link{}).first;
      }
      it->second.their_vv = std::move(vv);
      it->second.have_vv = true;
      it->second.pending = true;
    }
    push_round(peer);
  }

  void on_want(const PublicKey& peer, const WantMsg& w) {
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(peer);
      if (it == links_.end()) return;
      auto& have = it->second.their_vv[w.origin];
      have = std::min(have, w.from_seq - 1);
      it->second.pending = true;
    }
    push_round(peer);
  }

  // Pushes to `peer` what its version vector lacks, in EVENTS batches, until done, the round's
  // byte budget is spent, or the link refuses a message (backpressure). What is left is pushed
  // by a later tick, from the vector as updated by what was actually sent: nothing is buffered.
  void push_round(const PublicKey& peer) {
    SendPtr send;
    VersionVector their;
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(peer);
      if (it == links_.end() || !it->second.send || !it->second.pending) return;
      if (it->second.pushing) return;  // the running round sees pending and goes again
      it->second.pushing = true;
      it->second.pending = false;
      send = it->second.send;
      their = it->second.their_vv;
    }
    bool blocked = false, more = false;
    std::size_t sent_bytes = 0;
    EventsBatcher batch;
    std::vector<std::pair<PublicKey, std::uint64_t>> in_batch;
    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      std::size_t n = batch.bytes();
      if (!send_on(send, batch.flush())) {
        in_batch.clear();
        return false;
      }
      sent_bytes += n;
      for (const auto& [o, s] : in_batch) their[o] = std::max(their[o], s);
      in_batch.clear();
      return true;
    };
    for (const auto& [origin, last] : store_->version_vector()) {
      if (blocked || more) break;
      auto known = their.find(origin);
      std::uint64_t from = (known == their.end() ? 0 : known->second) + 1;
      while (from <= last && !blocked) {
        if (sent_bytes >= kRoundBytes) {
          more = true;
          break;
        }
        auto events = store_->read(origin, from, kMaxReadCount, kLinkBatchBytes);
        if (!events) {
          spdlog::warn("gossip: read {}#{}: {}", origin.short_id(), from, events.error().message);
          break;
        }
        if (events->empty()) break;
        for (const auto& e : *events) {
          if (!batch.add(e)) {
            if (!flush()) {
              blocked = true;
              break;
            }
            batch.add(e);
          }
          in_batch.emplace_back(e.origin, e.seq);
        }
        from = events->back().seq + 1;
      }
    }
    if (!blocked && !flush()) blocked = true;
    bool again = false;
    {
      std::lock_guard lock(mu_);
      auto it = links_.find(peer);
      if (it != links_.end() && it->second.send == send) {
        for (const auto& [o, s] : their) {
          auto& have = it->second.their_vv[o];
          have = std::max(have, s);
        }
        it->second.pushing = false;
        if (blocked || more) it->second.pending = true;
        // A vector or want that arrived meanwhile: go again now, unless the link is full.
        again = it->second.pending && !blocked && !more;
      } else if (it != links_.end()) {
        // The link was replaced during the round: what went out on the old one may be lost,
        // so nothing is credited, and the round starts over on the new link. (Leaving
        // `pushing` set here would stall this peer until the link went down.)
        it->second.pushing = false;
        it->second.pending = true;
        again = static_cast<bool>(it->second.send);
      }
    }
    if (again) push_round(peer);
  }

  void on_events(const PublicKey& peer, const EventsMsg& m) {
    std::vector<Event> stored;
    std::map<PublicKey, std::uint64_t> wants;
    bool changed = false;
    std::uint64_t t = now();
    auto member = [this](const PublicKey& k) { return roster_.is_member(k); };
    for (const auto& raw : m.events) {
      auto ev = decode(raw);
      if (!ev) {
        count(reject_reason(ev.error()));
        continue;
      }
      // Cheap before the signature check: a relayed copy we already hold is the common case,
      // and nothing is done with it either way.
      if (ev->seq <= store_->last_seq(ev->origin)) {
        count(RejectReason::duplicate);
        continue;
      }
      if (is_ephemeral_topic(ev->topic)) {  // ephemeral topics travel in LIVE only
        count(RejectReason::malformed);
        continue;
      }
      if (auto ok = verify(*ev, t, member); !ok) {
        count(reject_reason(ok.error()));
        continue;
      }
      // Only the next one counts against limits (a gap is stored nowhere: append says so).
      if (ev->seq == store_->last_seq(ev->origin) + 1 && !admissible(*ev, t)) continue;
      auto r = store_->append(*ev);
      if (!r) {
        count(reject_reason(r.error()));
        continue;
      }
      switch (*r) {
        case Appended::stored:
          if (ev->topic == kRosterTopic && roster_.apply(*ev)) changed = true;
          stored.push_back(std::move(*ev));
          break;
        case Appended::duplicate:
          count(RejectReason::duplicate);
          break;
        case Appended::gap:
          count(RejectReason::gap);
          if (!limits_.held_back(ev->origin, t)) {
            wants.emplace(ev->origin, store_->last_seq(ev->origin) + 1);
          }
          break;
      }
    }
    if (!stored.empty()) {
      {
        // The sender has these: never push them back to it.
        std::lock_guard lock(mu_);
        if (auto it = links_.find(peer); it != links_.end()) {
          for (const auto& e : stored) {
            auto& have = it->second.their_vv[e.origin];
            have = std::max(have, e.seq);
          }
        }
      }
      relay_stored(stored, &peer);
      wake_delivery();
    }
    SendPtr back;
    if (!wants.empty()) {
      std::lock_guard lock(mu_);
      if (auto it = links_.find(peer); it != links_.end()) back = it->second.send;
    }
    for (const auto& [origin, from] : wants) send_on(back, encode_link(WantMsg{origin, from}));
    if (changed) roster_changed();
  }

  // Pushes freshly stored events to every link but `except`. A link that refuses is marked
  // pending: its next anti-entropy round sends them from its version vector.
  void relay_stored(const std::vector<Event>& events, const PublicKey* except) {
    std::vector<std::string> msgs;
    std::vector<std::vector<std::pair<PublicKey, std::uint64_t>>> contents;
    EventsBatcher batch;
    std::vector<std::pair<PublicKey, std::uint64_t>> cur;
    for (const auto& e : events) {
      if (!batch.add(e)) {
        msgs.push_back(batch.flush());
        contents.push_back(std::move(cur));
        cur.clear();
        batch.add(e);
      }
      cur.emplace_back(e.origin, e.seq);
    }
    if (!batch.empty()) {
      msgs.push_back(batch.flush());
      contents.push_back(std::move(cur));
    }
    for (const auto& [peer, send] : link_sends(except)) {
      std::size_t ok = 0;
      while (ok < msgs.size() && send_on(send, msgs[ok])) ++ok;
      std::lock_guard lock(mu_);
      auto it = links_.find(peer);
      if (it == links_.end() || it->second.send != send) continue;
      Link& l = it->second;
      // Advance their vector only where it stays contiguous, so no gap is ever assumed filled.
      for (std::size_t i = 0; i < ok; ++i) {
        for (const auto& [o, s] : contents[i]) {
          auto& have = l.their_vv[o];
          if (l.have_vv && have + 1 == s) have = s;
        }
      }
      if (ok < msgs.size()) l.pending = true;
    }
  }

  void on_live(const PublicKey& peer, const LiveMsg& m) {
    auto ev = decode(m.event);
    if (!ev) {
      count(reject_reason(ev.error()));
      return;
    }
    // Stored topics travel in EVENTS; local ones never leave their node, so a peer's is forged.
    if (!is_ephemeral_topic(ev->topic) || is_local_topic(ev->topic)) {
      count(RejectReason::malformed);
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (recent_live_.count({ev->origin, ev->seq})) return;  // relayed copy: normal, not counted
    }
    auto ok = verify(*ev, now(), [this](const PublicKey& k) { return roster_.is_member(k); });
    if (!ok) {
      count(reject_reason(ok.error()));
      return;
    }
    {
      std::lock_guard lock(mu_);
      // Only a verified event enters the set, so a forged copy cannot shadow the real one.
      if (!remember_live_locked(ev->origin, ev->seq)) return;
    }
    // Neither delivered nor relayed past the origin's rate (its next heartbeat gets through).
    if (ev->origin != self_ && !limits_.admit_live(ev->origin, now())) return;
    {
      std::lock_guard lock(mu_);
      if (ev->topic == kGoodbyeTopic && ev->origin != self_) {
        if (seen_.count(ev->origin) || seen_.size() < kMaxSeen) {
          Seen& s = seen_[ev->origin];
          s.left = true;
          s.bye_seq = std::max(s.bye_seq, ev->seq);
          spdlog::info("gossip: {} said goodbye (stopped)", ev->origin.short_id());
        }
      }
      if (ev->topic == "heartbeat" && ev->origin != self_) {
        auto prior = seen_.find(ev->origin);
        touch_locked(ev->origin, now(), prior == seen_.end() || ev->seq > prior->second.bye_seq);
        if (auto s = seen_.find(ev->origin); s != seen_.end()) {
          std::size_t n = std::min(ev->payload.size(), kMaxHeartbeatKept);
          s->second.heartbeat.assign(ev->payload.begin(), ev->payload.begin() + n);
          s->second.linked = heartbeat_linked(ev->payload);
        }
      }
    }
    subs_.offer_live(*ev);
    std::string msg = encode_link(m);
    for (const auto& send : relay_targets(peer, *ev)) send_on(send, msg);
  }

  // Where a live event from `origin`, received from `from`, goes on: every link but those two;
  // for a heartbeat, also not to the peers whose last heartbeat said they have a link to the
  // origin (they hear it from the origin itself). In a full mesh that is no one: a team of 50
  // relayed each heartbeat 48 times per node, which was most of its idle cost. Only
  // heartbeats: what a peer's heartbeat says can be a second old when a link has just gone
  // down (it heartbeats at the next tick), which costs a heartbeat nothing but would cost an
  // acknowledgement or a goodbye its only copy.
  std::vector<SendPtr> relay_targets(const PublicKey& from, const Event& ev) {
    std::vector<SendPtr> out;
    const bool beat = ev.topic == "heartbeat";
    const std::string origin_id = ev.origin.short_id();
    std::lock_guard lock(mu_);
    for (const auto& [p, l] : links_) {
      if (!l.send || p == from || p == ev.origin) continue;
      if (auto s = seen_.find(p); beat && s != seen_.end() && s->second.linked.count(origin_id)) {
        continue;
      }
      out.push_back(l.send);
    }
    return out;
  }

  bool remember_live_locked(const PublicKey& origin, std::uint64_t seq) {
    if (!recent_live_.insert({origin, seq}).second) return false;
    recent_order_.emplace_back(origin, seq);
    if (recent_order_.size() > kRecentLiveCap) {
      recent_live_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
    return true;
  }

  void send_heartbeat() {
    std::vector<std::string> linked;
    for (const auto& [peer, send] : link_sends()) linked.push_back(peer.short_id());
    std::string payload = heartbeat_payload(opts_, linked);
    if (auto r = publish("heartbeat", as_bytes(payload)); !r) {
      spdlog::warn("gossip: heartbeat: {}", r.error().message);
    }
  }

  void roster_changed() {
    {
      std::lock_guard lock(mu_);
      roster_dirty_ = true;
    }
    cv_.notify_all();
    // Events refused as not_member before this change may be acceptable now: ask every peer for
    // what we lack.
    sync_now();
  }

  void wake_delivery() { subs_.stored_changed(); }

  // Runs the roster callback off the threads that changed the roster (links' I/O threads).
  void roster_loop() {
    for (;;) {
      std::function<void()> cb;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopped_ || roster_dirty_; });
        if (stopped_) return;
        roster_dirty_ = false;
        cb = roster_cb_;
      }
      if (!cb) continue;
      try {
        cb();
      } catch (const std::exception& e) {
        spdlog::warn("gossip: roster callback threw: {}", e.what());
      }
    }
  }

  EngineOptions opts_;
  PublicKey self_;
  std::unique_ptr<FeedStore> store_;
  std::unique_ptr<Cursors> cursors_;
  Subscriptions subs_;  // after the store and cursors it reads: destroyed before them
  Roster roster_;
  OriginLimits limits_;  // its own lock; never called with mu_ held

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<PublicKey, Link> links_;
  std::map<PublicKey, Seen> seen_;
  std::map<RejectReason, std::uint64_t> rejected_;
  std::uint64_t live_seq_ = 0;
  std::set<std::pair<PublicKey, std::uint64_t>> recent_live_;
  std::deque<std::pair<PublicKey, std::uint64_t>> recent_order_;
  std::function<void()> roster_cb_;
  std::uint64_t last_heartbeat_ms_ = 0;
  std::uint64_t last_sync_ms_ = 0;
  bool roster_dirty_ = false;
  bool stopped_ = false;

  std::thread thread_;  // runs roster callbacks
};

Result<std::unique_ptr<Engine>> Engine::open(EngineOptions options) {
  try {
    if (!options.self) return make_error(Errc::invalid, "engine: no identity");
    if (options.root.empty()) return make_error(Errc::invalid, "engine: no root");
    auto store = FeedStore::open(options.root);
    if (!store) return store.error();
    auto cursors = Cursors::open(options.root);
    if (!cursors) return cursors.error();
    auto engine =
        std::make_unique<EngineImpl>(std::move(options), std::move(*store), std::move(*cursors));
    if (auto st = engine->rebuild_roster(); !st) return st.error();
    engine->start();
    return std::unique_ptr<Engine>(std::move(engine));
  } catch (const std::exception& e) {
    return make_error(Errc::internal, std::string("engine: ") + e.what());
  }
}

}  // namespace mesh::gossip
