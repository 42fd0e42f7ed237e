#include "mesh/web/svg.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace mesh::web {
namespace {

constexpr std::size_t kMaxDays = 366;
constexpr std::size_t kMaxDots = 50;
constexpr std::uint32_t kMaxCount = 1'000'000'000;
constexpr std::size_t kMaxPeers = 100'000;

std::string num(std::uint64_t v) {
  return std::to_string(v);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A plain decimal number (no sign, no spaces inside).
std::optional<std::uint64_t> decimal(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string sparkline_svg(std::span<const std::uint32_t> counts) {
  if (counts.size() > kMaxDays) counts = counts.subspan(counts.size() - kMaxDays);
  constexpr unsigned kBar = 3, kGap = 1, kHeight = 24;
  const std::size_t days = counts.size();
  const std::size_t width = std::max<std::size_t>(days * (kBar + kGap), 1);
  std::uint64_t total = 0;
  std::uint32_t peak = 0;
  for (auto c : counts) {
    total += c;
    peak = std::max(peak, c);
  }
  const std::string label = num(total) + (total == 1 ? " commit" : " commits") + " in " +
                            num(days) + (days == 1 ? " day" : " days");
  std::string out = "<svg class=\"sparkline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    num(width) + "\" height=\"" + num(kHeight) + "\" viewBox=\"0 0 " + num(width) +
                    " " + num(kHeight) + "\" role=\"img\" aria-label=\"" + label + "\"><title>" +
                    label + "</title>";
  for (std::size_t i = 0; i < days; ++i) {
    const std::uint32_t c = counts[i];
    // Zero days are a 1 px baseline; any commit is at least 2 px, the peak fills the height.
    std::uint64_t h = 1;
    if (c > 0 && peak > 0) {
      h = std::max<std::uint64_t>(2, (static_cast<std::uint64_t>(c) * kHeight + peak - 1) / peak);
    }
    out += "<rect class=\"" + std::string(c > 0 ? "bar" : "zero") + "\" x=\"" +
           num(i * (kBar + kGap)) + "\" y=\"" + num(kHeight - h) + "\" width=\"" + num(kBar) +
           "\" height=\"" + num(h) + "\"/>";
  }
  out += "</svg>";
  return out;
}

std::string peers_svg(std::size_t up, std::size_t total) {
  total = std::min(total, kMaxPeers);
  up = std::min(up, total);
  constexpr unsigned kStep = 10, kR = 4, kHeight = 10;
  const std::size_t dots = std::min(total, kMaxDots);
  const bool more = total > kMaxDots;
  const std::size_t width = std::max<std::size_t>(dots * kStep + (more ? kStep : 0), kStep);
  const std::string label =
      total == 0 ? std::string("no peers") : num(up) + " of " + num(total) + " peers up";
  std::string out = "<svg class=\"peers-indicator\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    num(width) + "\" height=\"" + num(kHeight) + "\" viewBox=\"0 0 " + num(width) +
                    " " + num(kHeight) + "\" role=\"img\" aria-label=\"" + label + "\"><title>" +
                    label + "</title>";
  if (total == 0) {
    out += "<circle class=\"none\" cx=\"5\" cy=\"5\" r=\"" + num(kR - 1) + "\"/>";
  }
  // Dots stand for counts, not for particular peers: the up ones first.
  for (std::size_t i = 0; i < dots; ++i) {
    out += "<circle class=\"" + std::string(i < up ? "up" : "down") + "\" cx=\"" +
           num(i * kStep + 5) + "\" cy=\"5\" r=\"" + num(kR) + "\"/>";
  }
  if (more) {
    const std::size_t x = dots * kStep + 5;
    out += "<path class=\"more\" d=\"M" + num(x - 3) + " 5h6M" + num(x) + " 2v6\"/>";
  }
  out += "</svg>";
  return out;
}

std::optional<std::vector<std::uint32_t>> parse_counts(std::string_view text) {
  std::vector<std::uint32_t> out;
  text = trim(text);
  if (text.empty()) return out;
  while (true) {
    auto comma = text.find(',');
    auto v = decimal(text.substr(0, comma));
    if (!v || *v > kMaxCount || out.size() >= kMaxDays) return std::nullopt;
    out.push_back(static_cast<std::uint32_t>(*v));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::optional<std::pair<std::size_t, std::size_t>> parse_up_total(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto up = decimal(text.substr(0, slash));
  auto total = decimal(text.substr(slash + 1));
  if (!up || !total || *up > *total || *total > kMaxPeers) return std::nullopt;
  return std::pair<std::size_t, std::size_t>(*up, *total);
}

}  // namespace mesh::web
