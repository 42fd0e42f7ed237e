#include "status.hpp"

#include <boost/json.hpp>
#include <map>

namespace mesh::issues {
namespace json = boost::json;
namespace {

constexpr std::size_t kListed = 20;  // waiting groups and refusals listed

struct Snapshot {
  BoardStats stats;
  std::vector<PendingGroup> pending;
  std::vector<Refusal> refusals;  // newest last
  std::size_t repos = 0;
  std::map<std::string, MemberUsage, std::less<>> usage;
  MemberLimits limits;
  GlueStats glue;
};

Snapshot snapshot(const Service& s) {
  Snapshot out = s.read([](const Board& b) {
    Snapshot x;
    x.stats = b.stats();
    x.pending = b.pending();
    x.refusals.assign(b.recent_refusals().begin(), b.recent_refusals().end());
    x.repos = b.repo_names().size();
    x.usage = b.usage_by_member();
    x.limits = b.member_limits();
    return x;
  });
  out.glue = s.glue_stats();
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string status_json(const Service& s) {
  Snapshot x = snapshot(s);
  json::object o;
  o["repos"] = x.repos;
  o["issues"] = x.stats.issues;
  o["applied"] = x.stats.applied;
  o["refused"] = x.stats.refused + x.glue.non_member;
  o["duplicates"] = x.stats.duplicates;
  o["deferred"] = x.stats.deferred;
  o["non_member"] = x.glue.non_member;
  o["waiting"] = x.stats.pending;
  o["waiting_bytes"] = x.stats.pending_bytes;
  o["waiting_peak"] = x.stats.pending_peak;
  json::object reasons;
  for (const auto& [k, v] : x.stats.refused_by_reason) reasons[k] = v;
  if (x.glue.non_member) reasons["member"] = x.glue.non_member;
  o["refused_by_reason"] = std::move(reasons);
  json::array waiting;
  for (std::size_t i = 0; i < x.pending.size() && i < kListed; ++i) {
    const auto& g = x.pending[i];
    waiting.push_back(json::object{
        {"origin", g.origin}, {"repo", g.repo}, {"count", g.count}, {"issue", g.waiting_for}});
  }
  o["waiting_for"] = std::move(waiting);
  json::array refusals;
  std::size_t from = x.refusals.size() > kListed ? x.refusals.size() - kListed : 0;
  for (std::size_t i = x.refusals.size(); i-- > from;) {  // newest first
    const auto& r = x.refusals[i];
    refusals.push_back(json::object{{"origin", r.origin},
                                    {"seq", r.seq},
                                    {"repo", r.repo},
                                    {"issue", r.issue},
                                    {"reason", r.problem.reason},
                                    {"message", r.problem.message}});
  }
  o["recent_refusals"] = std::move(refusals);
  // What each member has made this node keep, against the limits per member.
  json::array members;
  for (const auto& [origin, u] : x.usage) {
    members.push_back(json::object{
        {"origin", origin}, {"issues", u.issues}, {"comments", u.comments}, {"bytes", u.bytes}});
  }
  o["members"] = std::move(members);
  o["member_limits"] = json::object{
      {"issues", x.limits.issues}, {"comments", x.limits.comments}, {"bytes", x.limits.bytes}};
  o["journal"] = json::object{{"cursor", x.glue.cursor},
                              {"replayed", x.glue.replayed},
                              {"rebuilding", x.glue.rebuilding},
                              {"failures", x.glue.journal_failures}};
  return json::serialize(o);
}

std::string status_text(const Service& s) {
  Snapshot x = snapshot(s);
  std::string out = "issues\n";
  out += "  " + std::to_string(x.stats.issues) + " issues in " + std::to_string(x.repos) +
         " repos; " + std::to_string(x.stats.applied) + " ops applied, " +
         std::to_string(x.stats.refused + x.glue.non_member) + " refused, " +
         std::to_string(x.stats.pending) + " waiting for their issue";
  if (x.stats.deferred) out += ", " + std::to_string(x.stats.deferred) + " deliveries deferred";
  out += "\n";
  for (std::size_t i = 0; i < x.pending.size() && i < 5; ++i) {
    const auto& g = x.pending[i];
    out += "  waiting: " + std::to_string(g.count) + " ops from " + g.origin + " in " + g.repo +
           " (for issue " + g.waiting_for + ")\n";
  }
  for (std::size_t n = 0, i = x.refusals.size(); i-- > 0 && n < 5; ++n) {
    const auto& r = x.refusals[i];
    out += "  refused: " + r.origin + " #" + std::to_string(r.seq) +
           (r.repo.empty() ? "" : " (" + r.repo + ")") + ": " + r.problem.reason + ": " +
           r.problem.message + "\n";
  }
  for (const auto& [origin, u] : x.usage) {
    // Only members near a limit (above 80 % of one) are worth a line.
    auto near = [](std::uint64_t used, std::uint64_t limit) { return used * 5 >= limit * 4; };
    if (near(u.issues, x.limits.issues) || near(u.comments, x.limits.comments) ||
        near(u.bytes, x.limits.bytes)) {
      out += "  near its limits: " + origin + " (" + std::to_string(u.issues) + "/" +
             std::to_string(x.limits.issues) + " issues, " + std::to_string(u.comments) + "/" +
             std::to_string(x.limits.comments) + " comments, " + std::to_string(u.bytes) + "/" +
             std::to_string(x.limits.bytes) + " bytes)\n";
    }
  }
  if (x.glue.rebuilding) out += "  the board was rebuilt from the feeds at start\n";
  if (x.glue.journal_failures) {
    out += "  the journal failed " + std::to_string(x.glue.journal_failures) +
           " times: the next start rebuilds the board\n";
  }
  return out;
}

std::string status_html(const Service& s) {
  Snapshot x = snapshot(s);
  std::string out =
      "<section class=\"box\" id=\"issues-status\"><div class=\"box-header\"><h2>Issues</h2>"
      "</div><div class=\"box-body\"><p>";
  out += std::to_string(x.stats.issues) + " issues in " + std::to_string(x.repos) + " repos, " +
         std::to_string(x.stats.applied) + " ops applied, " +
         std::to_string(x.stats.refused + x.glue.non_member) + " refused, " +
         std::to_string(x.stats.pending) + " waiting for their issue.</p>";
  if (!x.refusals.empty()) {
    out += "<table class=\"table\"><tr><th>origin</th><th>repo</th><th>refused</th></tr>";
    for (std::size_t n = 0, i = x.refusals.size(); i-- > 0 && n < 5; ++n) {
      const auto& r = x.refusals[i];
      out += "<tr><td class=\"mono\">" + html_escape(r.origin.substr(0, 17)) + " #" +
             std::to_string(r.seq) + "</td><td>" + html_escape(r.repo) + "</td><td>" +
             html_escape(r.problem.reason + ": " + r.problem.message) + "</td></tr>";
    }
    out += "</table>";
  }
  return out + "</div></section>";
}

}  // namespace mesh::issues
