// Connection accounting on its own, with a fake clock: the caps, the reserve and the reports.
#include <gtest/gtest.h>

#include <vector>

#include "mesh/http/connection_gate.hpp"

using namespace mesh::http;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  ConnectionGate::Clock fn() {
    return [this] { return now; };
  }
};

CapacityLimits small() {
  CapacityLimits l;
  l.max_connections = 20;
  l.stranger_percent = 50;  // 10 for strangers
  l.per_source = 4;
  l.per_source_half_open = 2;
  l.report_interval = 60s;
  return l;
}

}  // namespace

TEST(ConnectionGate, HalfOpenAndPerSourceCapsForStrangers) {
  FakeClock clock;
  auto gate = ConnectionGate::create(small(), clock.fn());
  std::vector<Ticket> held;
  for (int i = 0; i < 2; ++i) {
    auto a = gate->admit("192.0.2.7", false);
    ASSERT_TRUE(a.ticket) << a.refusal;
    held.push_back(std::move(*a.ticket));
  }
  auto third = gate->admit("192.0.2.7", false);
  EXPECT_FALSE(third.ticket);
  EXPECT_NE(third.refusal.find("handshake"), std::string::npos) << third.refusal;
  // Once they sent a request they are no longer half-open, but still count for the address.
  for (auto& t : held) t.opened(false);
  for (int i = 0; i < 2; ++i) {
    auto a = gate->admit("192.0.2.7", false);
    ASSERT_TRUE(a.ticket) << a.refusal;
    a.ticket->opened(false);
    held.push_back(std::move(*a.ticket));
  }
  auto fifth = gate->admit("192.0.2.7", false);
  EXPECT_FALSE(fifth.ticket);
  EXPECT_NE(fifth.refusal.find("no member certificate"), std::string::npos) << fifth.refusal;
  EXPECT_EQ(gate->counts("192.0.2.7").strangers, 4u);
  // Another address is not affected.
  EXPECT_TRUE(gate->admit("192.0.2.8", false).ticket);
  // A member's certificate moves the slot out of the address's share.
  held[0].opened(true);
  EXPECT_EQ(gate->counts("192.0.2.7").strangers, 3u);
  EXPECT_TRUE(gate->admit("192.0.2.7", false).ticket);
  // Closing gives the slots back.
  held.clear();
  EXPECT_EQ(gate->counts().total, 0u);
  EXPECT_EQ(gate->counts().strangers, 0u);
  EXPECT_EQ(gate->counts().half_open, 0u);
}

TEST(ConnectionGate, StrangersLeaveTheReserveToLocalClientsAndMembers) {
  FakeClock clock;
  auto gate = ConnectionGate::create(small(), clock.fn());
  std::vector<Ticket> held;
  // Many addresses together take at most the stranger share (10 of 20)...
  for (int i = 0; i < 10; ++i) {
    auto a = gate->admit("198.51.100." + std::to_string(i), false);
    ASSERT_TRUE(a.ticket) << i << ": " << a.refusal;
    held.push_back(std::move(*a.ticket));
  }
  auto over = gate->admit("198.51.100.99", false);
  EXPECT_FALSE(over.ticket);
  EXPECT_NE(over.refusal.find("kept for loopback clients and members"), std::string::npos);
  // ...so loopback clients still get in, up to max_connections.
  for (int i = 0; i < 10; ++i) {
    auto a = gate->admit("127.0.0.1", true);
    ASSERT_TRUE(a.ticket) << i << ": " << a.refusal;
    EXPECT_TRUE(a.ticket->trusted());
    held.push_back(std::move(*a.ticket));
  }
  auto full = gate->admit("127.0.0.1", true);
  EXPECT_FALSE(full.ticket);
  EXPECT_NE(full.refusal.find("max_connections"), std::string::npos);
  EXPECT_EQ(gate->counts().total, 20u);
  // A stranger that turns out to be a member frees a stranger slot for the next one.
  held[0].opened(true);
  EXPECT_FALSE(gate->admit("198.51.100.99", false).ticket);  // the total is still full
  held.pop_back();                                           // a local client leaves
  EXPECT_TRUE(gate->admit("198.51.100.99", false).ticket);
}

TEST(ConnectionGate, RefusalsAreReportedOncePerAddressAndInterval) {
  FakeClock clock;
  auto limits = small();
  limits.per_source_half_open = 1;
  auto gate = ConnectionGate::create(limits, clock.fn());
  auto held = gate->admit("203.0.113.5", false);
  ASSERT_TRUE(held.ticket);
  auto first = gate->admit("203.0.113.5", false);
  ASSERT_FALSE(first.ticket);
  EXPECT_NE(first.report.find("refusing connections from 203.0.113.5"), std::string::npos)
      << first.report;
  for (int i = 0; i < 500; ++i) {
    clock.now += 10ms;
    EXPECT_TRUE(gate->admit("203.0.113.5", false).report.empty());
  }
  // Another address gets its own report.
  auto other_held = gate->admit("203.0.113.6", false);
  EXPECT_FALSE(gate->admit("203.0.113.6", false).report.empty());
  // After the interval: one more line, with the count of what was not reported.
  clock.now += 60s;
  auto later = gate->admit("203.0.113.5", false);
  EXPECT_NE(later.report.find("500 more refused"), std::string::npos) << later.report;
  EXPECT_TRUE(gate->admit("203.0.113.5", false).report.empty());
}

TEST(ConnectionGate, SourcesAreAddressesAndIpv6Slash64s) {
  EXPECT_EQ(ConnectionGate::source_key("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ConnectionGate::source_key("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ConnectionGate::source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(ConnectionGate::source_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_NE(ConnectionGate::source_key("2001:db8:1:3::1"), "2001:db8:1:2::/64");
}

TEST(ConnectionGate, TicketsMoveAndReleaseOnce) {
  auto gate = ConnectionGate::create(small());
  {
    auto a = gate->admit("192.0.2.1", false);
    ASSERT_TRUE(a.ticket);
    Ticket moved = std::move(*a.ticket);
    Ticket again;
    again = std::move(moved);
    again.opened(false);
    again.opened(false);  // later calls do nothing
    EXPECT_EQ(gate->counts().total, 1u);
    EXPECT_EQ(gate->counts().half_open, 0u);
  }
  EXPECT_EQ(gate->counts().total, 0u);
  EXPECT_EQ(gate->counts().strangers, 0u);
}
