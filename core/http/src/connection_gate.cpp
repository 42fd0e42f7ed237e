// Connection accounting (see connection_gate.hpp).
#include "mesh/http/connection_gate.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>

namespace mesh::http {
namespace {

constexpr std::size_t kMaxReports = 4096;  // addresses remembered for report throttling

}  // namespace

Ticket::Ticket(Ticket&& other) noexcept {
  *this = std::move(other);
}

Ticket& Ticket::operator=(Ticket&& other) noexcept {
  if (this == &other) return *this;
  if (gate_) gate_->release(*this);
  gate_ = std::move(other.gate_);
  source_ = std::move(other.source_);
  trusted_ = other.trusted_;
  half_open_ = other.half_open_;
  stranger_ = other.stranger_;
  other.gate_.reset();
  return *this;
}

Ticket::~Ticket() {
  if (gate_) gate_->release(*this);
}

void Ticket::opened(bool member) {
  if (gate_) gate_->opened(*this, member);
}

std::shared_ptr<ConnectionGate> ConnectionGate::create(CapacityLimits limits, Clock clock) {
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  return std::shared_ptr<ConnectionGate>(new ConnectionGate(limits, std::move(clock)));
}

ConnectionGate::ConnectionGate(CapacityLimits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)) {}

std::string ConnectionGate::source_key(std::string_view ip) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(ip), ec);
  if (ec) return std::string(ip);
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

ConnectionGate::Admission ConnectionGate::admit(const std::string& source, bool trusted) {
  std::lock_guard lock(mu_);
  Admission out;
  auto refuse = [&](std::string why) {
    out.report = note_refusal(source, why);
    out.refusal = std::move(why);
    return std::move(out);
  };
  const std::uint32_t max_total = std::max<std::uint32_t>(limits_.max_connections, 1);
  if (counts_.total >= max_total) {
    return refuse("all " + std::to_string(max_total) + " connections (max_connections) are in use");
  }
  if (!trusted) {
    const std::uint32_t stranger_cap = std::max<std::uint32_t>(
        1, static_cast<std::uint32_t>(std::uint64_t{max_total} * limits_.stranger_percent / 100));
    const auto it = sources_.find(source);
    const Source have = it == sources_.end() ? Source{} : it->second;
    if (have.half_open >= limits_.per_source_half_open) {
      return refuse(std::to_string(have.half_open) +
                    " connections from it are still in their TLS handshake or first request");
    }
    if (have.strangers >= limits_.per_source) {
      return refuse(std::to_string(have.strangers) +
                    " connections from it have shown no member certificate");
    }
    if (counts_.strangers >= stranger_cap) {
      return refuse("the " + std::to_string(stranger_cap) +
                    " connections for clients without a member certificate are in use (the rest "
                    "is kept for loopback clients and members)");
    }
    auto& s = sources_[source];
    ++s.strangers;
    ++s.half_open;
    ++counts_.strangers;
    ++counts_.half_open;
  }
  ++counts_.total;
  Ticket t;
  t.gate_ = shared_from_this();
  t.source_ = source;
  t.trusted_ = trusted;
  t.half_open_ = !trusted;
  t.stranger_ = !trusted;
  out.ticket = std::move(t);
  return out;
}

void ConnectionGate::opened(Ticket& t, bool member) {
  std::lock_guard lock(mu_);
  if (t.trusted_) return;
  auto it = sources_.find(t.source_);
  if (it == sources_.end()) return;
  if (t.half_open_) {
    t.half_open_ = false;
    --it->second.half_open;
    --counts_.half_open;
  }
  if (member && t.stranger_) {
    t.stranger_ = false;
    --it->second.strangers;
    --counts_.strangers;
  }
  if (it->second.strangers == 0 && it->second.half_open == 0) sources_.erase(it);
}

void ConnectionGate::release(Ticket& t) {
  std::lock_guard lock(mu_);
  --counts_.total;
  if (!t.trusted_) {
    auto it = sources_.find(t.source_);
    if (it != sources_.end()) {
      if (t.half_open_) {
        --it->second.half_open;
        --counts_.half_open;
      }
      if (t.stranger_) {
        --it->second.strangers;
        --counts_.strangers;
      }
      if (it->second.strangers == 0 && it->second.half_open == 0) sources_.erase(it);
    }
  }
  t.gate_.reset();
}

std::string ConnectionGate::note_refusal(const std::string& source, const std::string& why) {
  const auto now = clock_();
  auto it = reports_.find(source);
  if (it != reports_.end() && now - it->second.last < limits_.report_interval) {
    ++it->second.suppressed;
    return {};
  }
  if (it == reports_.end() && reports_.size() >= kMaxReports) {
    // Forget addresses whose report is old; a flood from very many addresses then still logs
    // at most kMaxReports lines per interval.
    std::erase_if(reports_,
                  [&](const auto& r) { return now - r.second.last >= limits_.report_interval; });
    if (reports_.size() >= kMaxReports) return {};
  }
  std::uint64_t suppressed = it == reports_.end() ? 0 : it->second.suppressed;
  reports_[source] = Report{now, 0};
  const auto minutes =
      std::chrono::duration_cast<std::chrono::seconds>(limits_.report_interval).count();
  std::string line = "refusing connections from " + source + ": " + why;
  if (suppressed > 0) {
    line += "; " + std::to_string(suppressed) + " more refused since the last report";
  }
  line += " (the next report about it in " + std::to_string(minutes) + " s at the earliest)";
  return line;
}

ConnectionGate::Counts ConnectionGate::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

ConnectionGate::Counts ConnectionGate::counts(const std::string& source) const {
  std::lock_guard lock(mu_);
  auto it = sources_.find(source);
  if (it == sources_.end()) return {};
  return Counts{it->second.strangers, it->second.strangers, it->second.half_open};
}

}  // namespace mesh::http
