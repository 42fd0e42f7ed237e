#include "cli_text.hpp"

#include <algorithm>
#include <ctime>

namespace mesh::issues {
namespace {

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string joined(const std::vector<std::string>& v, std::string_view none = "-") {
  if (v.empty()) return std::string(none);
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string who(const NameOf& name_of, const std::string& origin) {
  std::string n = name_of ? name_of(origin) : std::string();
  return n.empty() ? origin.substr(0, 17) : n;
}

}  // namespace

std::string ago(std::uint64_t then_ms, std::uint64_t now_ms) {
  if (then_ms == 0) return "-";
  std::uint64_t s = now_ms > then_ms ? (now_ms - then_ms) / 1000 : 0;
  if (s < 5) return "just now";
  if (s < 60) return std::to_string(s) + "s ago";
  if (s < 3600) return std::to_string(s / 60) + "m ago";
  if (s < 86400) return std::to_string(s / 3600) + "h ago";
  if (s < 30 * 86400) return std::to_string(s / 86400) + "d ago";
  std::time_t t = static_cast<std::time_t>(then_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string fit(std::string_view text, std::size_t width) {
  if (code_points(text) <= width) return std::string(text);
  std::string out;
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool lead = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (lead && ++n > width - 1) break;
    out += text[i];
  }
  return out + "\u2026";
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], code_points(r[i]));
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - code_points(r[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string list_text(const std::vector<IssueView>& views, const NameOf& name_of,
                      std::uint64_t now_ms) {
  std::vector<std::vector<std::string>> rows{
      {"REF", "STATE", "TITLE", "LABELS", "ASSIGNEES", "AUTHOR", "UPDATED"}};
  for (const auto& v : views) {
    rows.push_back({v.ref, std::string(state_name(v.state)), fit(v.title, 60),
                    fit(joined(v.labels), 30), fit(joined(v.assignees), 20),
                    fit(who(name_of, v.author), 20), ago(v.updated_ms, now_ms)});
  }
  return table(rows);
}

std::string terminal_text(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') {
      out += '\n';
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else {
      out += body[i];
    }
  }
  return out;
}

std::string show_text(const IssueView& v, const NameOf& name_of, std::uint64_t now_ms) {
  std::string out = v.ref + "  " + v.title + "\n";
  std::vector<std::vector<std::string>> rows{
      {"state:", std::string(state_name(v.state)) +
                     (v.closed_by.empty() ? "" : " (by commit " + v.closed_by.substr(0, 12) + ")")},
      {"author:", who(name_of, v.author) + ", " + ago(v.created_ms, now_ms) + " (updated " +
                      ago(v.updated_ms, now_ms) + ")"},
      {"labels:", joined(v.labels) + (v.labels_truncated ? " (and more)" : "")},
      {"assignees:", joined(v.assignees) + (v.assignees_truncated ? " (and more)" : "")},
      {"id:", v.id},
  };
  out += table(rows);
  if (!v.body.empty()) out += "\n" + terminal_text(v.body) + "\n";
  for (const auto& c : v.comments) {
    out += "\n-- " + who(name_of, c.author) + ", " + ago(c.created_ms, now_ms) +
           (c.edited_ms ? " (edited " + ago(c.edited_ms, now_ms) + ")" : "") + "  [" +
           c.id.substr(0, 8) + "]\n" + terminal_text(c.body) + "\n";
  }
  if (v.comments.empty()) out += "\n(no comments)\n";
  return out;
}

}  // namespace mesh::issues
