// Cron expressions for on.schedule, always in UTC (there is no daylight saving time to skip or
// repeat a slot).
//
//   minute hour day-of-month month day-of-week
//   *  a  a-b  */n  a-b/n  lists "1,5,10-20/2"  JAN-DEC  SUN-SAT (any case)  7 = Sunday
//   @yearly @annually @monthly @weekly @daily @midnight @hourly
//
// Day rule (Vixie cron, cronie): when both day fields are restricted, a day matches if EITHER
// matches ("0 0 13 * FRI" is every 13th and every Friday). A field that starts with '*' (also
// "*/2") counts as unrestricted, exactly as in cronie, so "0 0 */2 * MON" is odd days that are
// Mondays. An expression that can never fire ("0 0 30 2 *") is an error.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace mesh::ci {

class Cron {
 public:
  static Result<Cron> parse(std::string_view text);

  // True if the minute starting at unix_s (any second in it) is a slot.
  bool matches(std::int64_t unix_s) const;
  // The first slot strictly after unix_s (minute-aligned, in Unix seconds), or nullopt if
  // there is none before the year 9999.
  std::optional<std::int64_t> next_after(std::int64_t unix_s) const;
  // The slots s with from < s <= to, in order, at most `max` of them (*truncated says if more).
  std::vector<std::int64_t> slots_between(std::int64_t from, std::int64_t to, std::size_t max,
                                          bool* truncated = nullptr) const;

  const std::string& text() const { return text_; }

 private:
  bool day_matches(int month_day, int week_day) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;
};

// "2024-02-29T03:00Z" for messages and slot keys.
std::string format_utc_minute(std::int64_t unix_s);

}  // namespace mesh::ci
