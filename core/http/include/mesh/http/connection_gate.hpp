// Who gets a connection slot. A stranger must not be able to lock the node's own people out by
// opening idle sockets: connections from addresses that have not (yet) shown a member
// certificate share a part of max_connections, each such address a few of them, and only for a
// short time before their TLS handshake or first request; loopback clients and members use the
// rest. No sockets here: the listener asks, so the rules are unit-tested with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mesh::http {

struct CapacityLimits {
  std::uint32_t max_connections = 512;  // [http] max_connections: every connection counts
  // Connections from addresses not trusted as local that have not shown a member certificate
  // (yet) may hold at most this share of max_connections; the rest stays free for loopback
  // clients and members.
  std::uint32_t stranger_percent = 50;
  // ... and at most this many from one address (an IPv6 /64 counts as one address),
  std::uint32_t per_source = 32;
  // of which at most this many may still be in their TLS handshake or first request.
  std::uint32_t per_source_half_open = 8;
  // Time an untrusted connection gets from accept to its TLS handshake (with a member
  // certificate) or its first request header; [http] header_timeout_ms when that is shorter.
  std::chrono::milliseconds stranger_deadline{3000};
  // A refused address is reported once per interval, with a count, not once per connection.
  std::chrono::milliseconds report_interval{std::chrono::minutes(10)};
};

class ConnectionGate;

// One admitted connection's slot; released when destroyed. Movable, not copyable.
class Ticket {
 public:
  Ticket() = default;
  Ticket(Ticket&& other) noexcept;
  Ticket& operator=(Ticket&& other) noexcept;
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;
  ~Ticket();

  // The connection finished its TLS handshake or read its first request header: it is no
  // longer half-open. `member`: it presented a member certificate, so it no longer counts as a
  // stranger's. Later calls do nothing.
  void opened(bool member);
  bool trusted() const { return trusted_; }

 private:
  friend class ConnectionGate;
  std::shared_ptr<ConnectionGate> gate_;
  std::string source_;
  bool trusted_ = false;
  bool half_open_ = false;
  bool stranger_ = false;
};

class ConnectionGate : public std::enable_shared_from_this<ConnectionGate> {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static std::shared_ptr<ConnectionGate> create(CapacityLimits limits, Clock clock = nullptr);

  struct Admission {
    std::optional<Ticket> ticket;  // set when admitted
    std::string refusal;           // why not, when refused
    // A line for the log (warning): the first refusal of this address in report_interval, or
    // the first after it with the number refused meanwhile. Empty otherwise.
    std::string report;
  };
  // `source`: the client's address (source_key() of it). `trusted`: a loopback client while
  // loopback trust is on (the user's own tools): only max_connections applies to it.
  Admission admit(const std::string& source, bool trusted);

  struct Counts {
    std::uint32_t total = 0;
    std::uint32_t strangers = 0;  // untrusted and not (yet) a member
    std::uint32_t half_open = 0;  // untrusted, before handshake / first request
  };
  Counts counts() const;
  Counts counts(const std::string& source) const;  // of one address

  // The address a limit applies to: IPv4 as is, IPv6 by its /64 ("2001:db8:1:2::/64"), an
  // IPv4-mapped IPv6 address as IPv4.
  static std::string source_key(std::string_view ip);

 private:
  friend class Ticket;
  ConnectionGate(CapacityLimits limits, Clock clock);
  void release(Ticket& t);
  void opened(Ticket& t, bool member);
  std::string note_refusal(const std::string& source, const std::string& why);

  struct Source {
    std::uint32_t strangers = 0;
    std::uint32_t half_open = 0;
  };
  struct Report {
    std::chrono::steady_clock::time_point last;
    std::uint64_t suppressed = 0;
  };
  const CapacityLimits limits_;
  const Clock clock_;
  mutable std::mutex mu_;
  Counts counts_;
  std::unordered_map<std::string, Source> sources_;
  std::unordered_map<std::string, Report> reports_;
};

}  // namespace mesh::http
