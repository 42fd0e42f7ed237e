#include "cron.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <functional>
#include <random>
#include <vector>

using namespace mesh::ci;

namespace {

// Unix seconds of a UTC civil time, through libc (independent of the chrono code under test).
std::int64_t utc(int y, int mon, int d, int h = 0, int mi = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<std::int64_t>(timegm(&tm));
}

Cron cron(const char* text) {
  auto c = Cron::parse(text);
  EXPECT_TRUE(c) << text << ": " << (c ? "" : c.error().message);
  return c ? *c : *Cron::parse("* * * * *");
}

struct Fields {
  int min, hour, dom, mon, dow;
};

Fields fields_of(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return {tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1, tm.tm_wday};
}

// Checks matches() minute by minute against a hand-written predicate, and next_after() from
// every slot and from random points between slots, over [from, to).
// The civil fields of every minute in [from, to), computed once per range.
const std::vector<Fields>& minutes_of(std::int64_t from, std::int64_t to) {
  static std::int64_t cached_from = 0, cached_to = 0;
  static std::vector<Fields> cache;
  if (cached_from != from || cached_to != to || cache.empty()) {
    cache.clear();
    for (std::int64_t t = from; t < to; t += 60) cache.push_back(fields_of(t));
    cached_from = from;
    cached_to = to;
  }
  return cache;
}

void check_against(const char* text, const std::function<bool(const Fields&)>& expected,
                   std::int64_t from, std::int64_t to) {
  SCOPED_TRACE(text);
  Cron c = cron(text);
  std::mt19937_64 rng(42);
  std::int64_t prev = from - 60;
  std::size_t slots = 0;
  const auto& minutes = minutes_of(from, to);
  for (std::int64_t t = from; t < to; t += 60) {
    bool want = expected(minutes[static_cast<std::size_t>((t - from) / 60)]);
    ASSERT_EQ(c.matches(t), want) << format_utc_minute(t);
    if (t % 7 == 0) {
      ASSERT_EQ(c.matches(t + 59), want) << "any second of the minute";
    }
    if (!want) continue;
    ++slots;
    auto n = c.next_after(prev);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, t) << "after " << format_utc_minute(prev);
    if (t - prev > 60) {
      std::int64_t mid =
          prev + 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(t - prev - 1));
      ASSERT_EQ(*c.next_after(mid), t) << "from " << mid;
    }
    prev = t;
  }
  EXPECT_GT(slots, 0u);
}

}  // namespace

TEST(CiCron, ExhaustiveOverALeapYear) {
  // 2023-12-01 .. 2025-03-02: a leap day, year ends, every month length, DST dates elsewhere.
  const std::int64_t from = utc(2023, 12, 1);
  const std::int64_t to = utc(2025, 3, 2);
  check_against(
      "0 0 29 2 *",
      [](const Fields& f) { return f.min == 0 && f.hour == 0 && f.dom == 29 && f.mon == 2; }, from,
      to);
  check_against(
      "*/15 9-17 * * MON-FRI",
      [](const Fields& f) {
        return f.min % 15 == 0 && f.hour >= 9 && f.hour <= 17 && f.dow >= 1 && f.dow <= 5;
      },
      from, to);
  // Both day fields restricted: either matches (every 13th, and every Friday).
  check_against(
      "0 12 13 * fri",
      [](const Fields& f) { return f.min == 0 && f.hour == 12 && (f.dom == 13 || f.dow == 5); },
      from, to);
  // A day-of-month starting with '*' counts as unrestricted (cronie): AND.
  check_against(
      "0 6 */2 * 1",
      [](const Fields& f) { return f.min == 0 && f.hour == 6 && f.dom % 2 == 1 && f.dow == 1; },
      from, to);
  check_against(
      "5,35 */6 1-7,20-31/3 JAN,Jun-AUG,dec *",
      [](const Fields& f) {
        bool dom = (f.dom >= 1 && f.dom <= 7) || (f.dom >= 20 && (f.dom - 20) % 3 == 0);
        bool mon = f.mon == 1 || (f.mon >= 6 && f.mon <= 8) || f.mon == 12;
        return (f.min == 5 || f.min == 35) && f.hour % 6 == 0 && dom && mon;
      },
      from, to);
  check_against(
      "0 0 31 * *", [](const Fields& f) { return f.min == 0 && f.hour == 0 && f.dom == 31; }, from,
      to);
  check_against(
      "59 23 * * 7", [](const Fields& f) { return f.min == 59 && f.hour == 23 && f.dow == 0; },
      from, to);
  check_against(
      "0 0 * * 5-7",
      [](const Fields& f) {
        return f.min == 0 && f.hour == 0 && (f.dow == 5 || f.dow == 6 || f.dow == 0);
      },
      from, to);
  check_against(
      "@monthly", [](const Fields& f) { return f.min == 0 && f.hour == 0 && f.dom == 1; }, from,
      to);
  check_against(
      "@weekly", [](const Fields& f) { return f.min == 0 && f.hour == 0 && f.dow == 0; }, from, to);
}

TEST(CiCron, EveryMinuteAndHour) {
  const std::int64_t from = utc(2024, 3, 9);
  const std::int64_t to = utc(2024, 4, 2);  // US and EU daylight saving changes: UTC has none
  check_against(
      "* * * * *", [](const Fields&) { return true; }, from, to);
  check_against(
      "@hourly", [](const Fields& f) { return f.min == 0; }, from, to);
  check_against(
      "30 2 * * *", [](const Fields& f) { return f.min == 30 && f.hour == 2; }, from, to);
}

TEST(CiCron, LeapYears) {
  Cron feb29 = cron("0 0 29 2 *");
  EXPECT_EQ(*feb29.next_after(utc(2025, 1, 1)), utc(2028, 2, 29));
  EXPECT_EQ(*feb29.next_after(utc(2024, 2, 29)), utc(2028, 2, 29));
  // 2100 is not a leap year; 2000 was.
  EXPECT_EQ(*feb29.next_after(utc(2096, 3, 1)), utc(2104, 2, 29));
  EXPECT_EQ(*feb29.next_after(utc(1999, 1, 1)), utc(2000, 2, 29));
  Cron yearly = cron("@yearly");
  EXPECT_EQ(*yearly.next_after(utc(2024, 12, 31, 23, 59)), utc(2025, 1, 1));
  EXPECT_EQ(*cron("@annually").next_after(utc(2025, 1, 1)), utc(2026, 1, 1));
  EXPECT_EQ(*cron("@daily").next_after(utc(2024, 2, 28, 12)), utc(2024, 2, 29));
  EXPECT_EQ(*cron("@midnight").next_after(utc(2023, 2, 28, 12)), utc(2023, 3, 1));
}

TEST(CiCron, NeverFiringIsAnError) {
  for (const char* never : {"0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *"}) {
    auto c = Cron::parse(never);
    ASSERT_FALSE(c) << never;
    EXPECT_NE(c.error().message.find("never fires"), std::string::npos) << c.error().message;
  }
  // With a restricted weekday too, days match by OR, so Feb 30 plus Mondays fires on Mondays.
  Cron c = cron("0 0 30 2 MON");
  auto n = c.next_after(utc(2024, 1, 1));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, utc(2024, 2, 5));
}

TEST(CiCron, SundayIsZeroOrSeven) {
  const std::int64_t from = utc(2024, 5, 1);
  auto a = cron("0 12 * * 0");
  auto b = cron("0 12 * * 7");
  auto c = cron("0 12 * * SUN");
  auto d = cron("0 12 * * sUn");
  for (std::int64_t t = from; t < from + 30 * 86400; t += 3600) {
    EXPECT_EQ(a.matches(t), b.matches(t));
    EXPECT_EQ(a.matches(t), c.matches(t));
    EXPECT_EQ(a.matches(t), d.matches(t));
  }
  EXPECT_EQ(*a.next_after(from), utc(2024, 5, 5, 12));  // 2024-05-05 is a Sunday
  EXPECT_EQ(*cron("0 0 * * 6-7").next_after(utc(2024, 5, 5, 1)), utc(2024, 5, 11));
}

TEST(CiCron, SlotsBetween) {
  Cron c = cron("*/10 * * * *");
  const std::int64_t t0 = utc(2024, 1, 1);
  bool truncated = true;
  auto s = c.slots_between(t0, t0 + 3600, 100, &truncated);
  ASSERT_EQ(s.size(), 6u);  // 00:10 .. 01:00: the lower end is exclusive, the upper inclusive
  EXPECT_EQ(s.front(), t0 + 600);
  EXPECT_EQ(s.back(), t0 + 3600);
  EXPECT_FALSE(truncated);
  s = c.slots_between(t0 - 1, t0 + 3600, 3, &truncated);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.front(), t0);
  EXPECT_TRUE(truncated);
  EXPECT_TRUE(c.slots_between(t0, t0, 10).empty());
  EXPECT_TRUE(c.slots_between(t0 + 60, t0, 10).empty());
}

TEST(CiCron, Edges) {
  Cron every = cron("* * * * *");
  EXPECT_EQ(*every.next_after(-1), 0);
  EXPECT_EQ(*every.next_after(0), 60);
  EXPECT_EQ(*every.next_after(59), 60);
  EXPECT_EQ(*every.next_after(-61), -60);
  EXPECT_FALSE(every.next_after(utc(9999, 12, 31, 23, 59)));
  EXPECT_EQ(*cron("0 0 1 1 *").next_after(utc(9998, 6, 1)), utc(9999, 1, 1));
  EXPECT_FALSE(cron("0 0 1 1 *").next_after(utc(9999, 1, 1)));
  EXPECT_EQ(format_utc_minute(utc(2024, 2, 29, 3, 7) + 30), "2024-02-29T03:07Z");
  EXPECT_EQ(cron("  0 3  *\t* *  ").text(), "  0 3  *\t* *  ");
  EXPECT_EQ(*cron("  0 3  *\t* *  ").next_after(utc(2024, 1, 1)), utc(2024, 1, 1, 3));
  EXPECT_TRUE(cron("@HOURLY").matches(utc(2024, 1, 1, 5)));
}

TEST(CiCron, Errors) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "expected 5 fields"},
           {"* * * *", "expected 5 fields"},
           {"* * * * * *", "expected 5 fields"},
           {"60 * * * *", "minute '60': 60 is out of range 0-59"},
           {"* 24 * * *", "out of range 0-23"},
           {"* * 0 * *", "out of range 1-31"},
           {"* * 32 * *", "out of range 1-31"},
           {"* * * 0 *", "out of range 1-12"},
           {"* * * 13 *", "out of range 1-12"},
           {"* * * * 8", "out of range 0-7"},
           {"*/0 * * * *", "step 0"},
           {"5/10 * * * *", "a step needs * or a range: write 5-59/10"},
           {"*/60 * * * *", "step 60"},
           {"10-5 * * * *", "goes backwards"},
           {",5 * * * *", "empty list item"},
           {"5, * * * *", "empty list item"},
           {"* * * foo *", "not a number or name"},
           {"* * * * monday", "not a number or name"},
           {"* * * JAN-0 *", "out of range 1-12"},
           {"jan * * * *", "not a number"},
           {"1-2-3 * * * *", "not a number"},
           {"? * * * *", "not a number"},
           {"@reboot", "unknown alias"},
           {"@every 5m", "unknown alias"},
           {"* * * * * é", "unexpected character"},
           {"100 * * * *", "out of range"},
       }) {
    auto r = Cron::parse(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.text << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.rfind("bad cron '", 0), 0u) << r.error().message;
  }
  EXPECT_FALSE(Cron::parse(std::string(129, ' ') + "* * * * *"));
}
