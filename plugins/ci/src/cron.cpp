#include "cron.hpp"

#include <array>
#include <chrono>
#include <cstdio>

#include "limits.hpp"

namespace mesh::ci {
namespace {

using namespace std::chrono;

constexpr std::int64_t kMaxUnix = 253402300799;  // 9999-12-31T23:59:59Z

struct FieldSpec {
  const char* what;
  int min;
  int max;                                   // day-of-week: 7, folded onto 0
  const std::array<const char*, 12>* names;  // names[i] is the value min + i
};

constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> kDayNames = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr, nullptr, nullptr, nullptr, nullptr};
constexpr FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr},        {"hour", 0, 23, nullptr},
    {"day of month", 1, 31, nullptr},  {"month", 1, 12, &kMonthNames},
    {"day of week", 0, 7, &kDayNames},
};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// A number or (for months and weekdays) a three-letter name.
Result<int> parse_value(std::string_view s, const FieldSpec& spec) {
  if (s.empty()) return fail("empty value");
  if (s.front() >= '0' && s.front() <= '9') {
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return fail("'" + std::string(s.substr(0, 16)) + "' is not a number");
      if (v < 1000) v = v * 10 + (c - '0');
    }
    if (v < spec.min || v > spec.max)
      return fail(std::to_string(v) + " is out of range " + std::to_string(spec.min) + "-" +
                  std::to_string(spec.max));
    return v;
  }
  if (spec.names != nullptr && s.size() == 3) {
    std::string l = {lower(s[0]), lower(s[1]), lower(s[2])};
    for (std::size_t i = 0; i < spec.names->size(); ++i) {
      if ((*spec.names)[i] != nullptr && l == (*spec.names)[i])
        return spec.min + static_cast<int>(i);
    }
  }
  return fail("'" + std::string(s.substr(0, 16)) + "' is not a " +
              (spec.names ? "number or name" : "number"));
}

// One field: a comma-separated list of items, each "*", "v", "a-b", "*/n" or "a-b/n".
// Sets bits min..max (day-of-week 7 lands on 0). *star: the field starts with '*'.
template <std::size_t N>
Status parse_field_items(std::string_view text, const FieldSpec& spec, std::bitset<N>& bits,
                         bool* star) {
  *star = !text.empty() && text.front() == '*';
  std::size_t items = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t comma = text.find(',', i);
    std::string_view item =
        text.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
    if (item.empty()) return fail("empty list item");
    if (++items > 60) return fail("too many list items");
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      if (s.empty() || s.size() > 2) return fail("bad step '" + std::string(s.substr(0, 8)) + "'");
      step = 0;
      for (char c : s) {
        if (c < '0' || c > '9') return fail("bad step '" + std::string(s) + "'");
        step = step * 10 + (c - '0');
      }
      if (step == 0) return fail("step 0");
      item = item.substr(0, slash);
      if (item != "*" && item.find('-') == std::string_view::npos)
        return fail("a step needs * or a range: write " + std::string(item) + "-" +
                    std::to_string(spec.max == 7 ? 6 : spec.max) + "/" + std::to_string(step));
    }
    int lo = 0;
    int hi = 0;
    if (item == "*") {
      lo = spec.min;
      hi = spec.max == 7 ? 6 : spec.max;
    } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
      auto a = parse_value(item.substr(0, dash), spec);
      if (!a) return a.error();
      auto b = parse_value(item.substr(dash + 1), spec);
      if (!b) return b.error();
      if (*a > *b)
        return fail("range " + std::string(item) + " goes backwards (write it as two ranges)");
      lo = *a;
      hi = *b;
    } else {
      auto v = parse_value(item, spec);
      if (!v) return v.error();
      lo = hi = *v;
    }
    if (step > 1 && step > hi - lo)
      return fail("step " + std::to_string(step) + " leaves only " + std::to_string(lo) + " of " +
                  std::string(item) + " (write " + std::to_string(lo) + ")");
    for (int v = lo; v <= hi; v += step)
      bits.set(static_cast<std::size_t>(spec.max == 7 ? v % 7 : v));
    if (comma == std::string_view::npos) break;
    i = comma + 1;
  }
  return {};
}

template <std::size_t N>
Status parse_field(std::string_view text, const FieldSpec& spec, std::bitset<N>& bits, bool* star) {
  auto st = parse_field_items(text, spec, bits, star);
  if (!st)
    return fail(std::string(spec.what) + " '" + std::string(text) + "': " + st.error().message);
  return {};
}

std::string expand_alias(std::string_view text, bool* ok) {
  std::string l;
  for (char c : text) l += lower(c);
  *ok = true;
  if (l == "@yearly" || l == "@annually") return "0 0 1 1 *";
  if (l == "@monthly") return "0 0 1 * *";
  if (l == "@weekly") return "0 0 * * 0";
  if (l == "@daily" || l == "@midnight") return "0 0 * * *";
  if (l == "@hourly") return "0 * * * *";
  *ok = false;
  return {};
}

constexpr int kMaxDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

std::int64_t floor_minute(std::int64_t s) {
  std::int64_t m = s / 60;
  if (s % 60 < 0) --m;
  return m * 60;
}

}  // namespace

Result<Cron> Cron::parse(std::string_view text) {
  std::string shown(text.substr(0, limits::kCronBytes));
  auto bad = [&](const std::string& why) { return fail("bad cron '" + shown + "': " + why); };
  if (text.size() > limits::kCronBytes)
    return bad("longer than " + std::to_string(limits::kCronBytes) + " bytes");
  std::string expanded;
  std::string_view body = text;
  while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.remove_suffix(1);
  if (!body.empty() && body.front() == '@') {
    bool ok = false;
    expanded = expand_alias(body, &ok);
    if (!ok)
      return bad(
          "unknown alias (known: @yearly @annually @monthly @weekly @daily @midnight "
          "@hourly)");
    body = expanded;
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < body.size()) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c < 0x21 || c > 0x7e) return bad("unexpected character");
    std::size_t j = i;
    while (j < body.size() && body[j] != ' ' && body[j] != '\t') ++j;
    fields.push_back(body.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5)
    return bad("expected 5 fields (minute hour day-of-month month day-of-week), got " +
               std::to_string(fields.size()));
  Cron cron;
  cron.text_ = shown;
  bool star = false;
  Status st = parse_field(fields[0], kFields[0], cron.minutes_, &star);
  if (st) st = parse_field(fields[1], kFields[1], cron.hours_, &star);
  if (st) st = parse_field(fields[2], kFields[2], cron.days_, &cron.days_star_);
  if (st) st = parse_field(fields[3], kFields[3], cron.months_, &star);
  if (st) st = parse_field(fields[4], kFields[4], cron.weekdays_, &cron.weekdays_star_);
  if (!st) return bad(st.error().message);
  // Can it fire at all? Only a restricted day-of-month combined by AND can rule every day out.
  if (!cron.days_star_ && cron.weekdays_star_) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!cron.months_[static_cast<std::size_t>(m)]) continue;
      for (int d = 1; d <= kMaxDays[m]; ++d) possible |= cron.days_[static_cast<std::size_t>(d)];
    }
    if (!possible) return bad("never fires (no such day in those months)");
  }
  return cron;
}

bool Cron::day_matches(int month_day, int week_day) const {
  bool dom = days_[static_cast<std::size_t>(month_day)];
  bool dow = weekdays_[static_cast<std::size_t>(week_day)];
  if (days_star_ || weekdays_star_) return dom && dow;
  return dom || dow;
}

bool Cron::matches(std::int64_t unix_s) const {
  std::int64_t t = floor_minute(unix_s);
  sys_seconds tp{seconds{t}};
  auto d = floor<days>(tp);
  year_month_day ymd{d};
  std::int64_t in_day = t - duration_cast<seconds>(d.time_since_epoch()).count();
  return months_[unsigned(ymd.month())] &&
         day_matches(static_cast<int>(unsigned(ymd.day())),
                     static_cast<int>(weekday{d}.c_encoding())) &&
         hours_[static_cast<std::size_t>(in_day / 3600)] &&
         minutes_[static_cast<std::size_t>(in_day % 3600 / 60)];
}

std::optional<std::int64_t> Cron::next_after(std::int64_t unix_s) const {
  if (unix_s >= kMaxUnix) return std::nullopt;
  std::int64_t t = floor_minute(unix_s) + 60;
  auto secs = [](sys_days d) { return duration_cast<seconds>(d.time_since_epoch()).count(); };
  while (t <= kMaxUnix) {
    sys_days d = floor<days>(sys_seconds{seconds{t}});
    year_month_day ymd{d};
    std::int64_t day_start = secs(d);
    if (!months_[unsigned(ymd.month())]) {
      t = secs(sys_days{year_month_day{ymd.year() / ymd.month() / 1} + months{1}});
      continue;
    }
    if (!day_matches(static_cast<int>(unsigned(ymd.day())),
                     static_cast<int>(weekday{d}.c_encoding()))) {
      t = day_start + 86400;
      continue;
    }
    int in_day = static_cast<int>(t - day_start);
    int h = in_day / 3600;
    int m = in_day % 3600 / 60;
    if (!hours_[static_cast<std::size_t>(h)]) {
      int h2 = h + 1;
      while (h2 < 24 && !hours_[static_cast<std::size_t>(h2)]) ++h2;
      t = h2 < 24 ? day_start + h2 * 3600 : day_start + 86400;
      continue;
    }
    int m2 = m;
    while (m2 < 60 && !minutes_[static_cast<std::size_t>(m2)]) ++m2;
    if (m2 == 60) {
      t = day_start + (h + 1) * 3600;
      continue;
    }
    return day_start + h * 3600 + m2 * 60;
  }
  return std::nullopt;
}

std::vector<std::int64_t> Cron::slots_between(std::int64_t from, std::int64_t to, std::size_t max,
                                              bool* truncated) const {
  std::vector<std::int64_t> out;
  if (truncated) *truncated = false;
  std::int64_t t = from;
  while (true) {
    auto next = next_after(t);
    if (!next || *next > to) break;
    if (out.size() == max) {
      if (truncated) *truncated = true;
      break;
    }
    out.push_back(*next);
    t = *next;
  }
  return out;
}

std::string format_utc_minute(std::int64_t unix_s) {
  std::int64_t t = floor_minute(unix_s);
  sys_days d = floor<days>(sys_seconds{seconds{t}});
  year_month_day ymd{d};
  std::int64_t in_day = t - duration_cast<seconds>(d.time_since_epoch()).count();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), static_cast<int>(in_day / 3600),
                static_cast<int>(in_day % 3600 / 60));
  return buf;
}

}  // namespace mesh::ci
