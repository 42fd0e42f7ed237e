#include "service.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <system_error>

#include "ids.hpp"

namespace mesh::issues {
namespace fs = std::filesystem;
namespace {

constexpr std::uint32_t kLogBurst = 20;
constexpr auto kLogWindow = std::chrono::seconds(10);
constexpr std::size_t kSelfOutcomes = 256;
constexpr auto kMembersMaxAge = std::chrono::seconds(1);

bool valid_cursor_name(std::string_view s) {
  if (s.empty() || s.size() > 48) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (!first && (c == '.' || c == '_' || c == '-'));
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!ok(s[i], i == 0)) return false;
  }
  return true;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// Written whole or not at all: temp file, fsync, rename, directory fsync.
bool write_atomically(const fs::path& file, const std::string& text, std::string* error) {
  fs::path tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return *error = "cannot write " + tmp.string(), false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, file, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    return *error = "cannot write " + file.string(), false;
  }
  int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

Random system_random() {
  return [] {
    std::uint64_t v = 0;
    randombytes_buf(&v, sizeof v);
    return v;
  };
}

std::string board_channel(std::string_view repo) {
  bool plain = !repo.empty() && repo.size() <= 100;
  for (char c : repo) {
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  }
  if (plain && repo.front() != '.' && repo.front() != '-') return "issues/" + std::string(repo);
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(repo.data()), repo.size(),
                     nullptr, 0);
  return "issues/." + hex(h, sizeof h);
}

Service::Service(ServiceHooks hooks, std::string self_id, Random random, WaitingLimits limits,
                 MemberLimits member_limits)
    : hooks_(std::move(hooks)),
      self_(std::move(self_id)),
      random_(std::move(random)),
      waiting_limits_(limits),
      member_limits_(member_limits),
      board_(limits, member_limits) {}

Service::~Service() {
  cancel_waiters();
}

std::string Service::open(const fs::path& dir) {
  std::lock_guard lock(mu_);
  dir_ = dir;
  const fs::path journal_file = dir / "journal";
  const fs::path cursor_file = dir / "cursor";
  std::error_code ec;
  std::string cursor;
  {
    std::ifstream in(cursor_file);
    std::getline(in, cursor);
  }
  bool had_journal = fs::exists(journal_file, ec);
  std::string why;
  if (!valid_cursor_name(cursor)) {
    why = had_journal ? "its cursor file is missing or damaged" : "";
  } else if (!had_journal) {
    why = "the journal is missing";
  } else {
    JournalReport report;
    std::string error;
    journal_ = Journal::open(
        journal_file,
        [this](const EventIn& e) {
          ApplyResult r = board_.apply(e);
          if (e.origin == self_) taken_self_ = std::max(taken_self_, e.seq);
          (void)r;
        },
        &report, &error);
    if (journal_) {
      glue_.replayed = report.events;
      glue_.cursor = cursor;
      if (report.dropped_bytes > 0 && hooks_.log) {
        hooks_.log(LogLevel::warn, "the journal had a torn tail of " +
                                       std::to_string(report.dropped_bytes) +
                                       " bytes (a crash during a write); cut off");
      }
      return cursor;
    }
    why = "the journal is unusable (" + error + ")";
    board_ = Board(waiting_limits_, member_limits_);
    taken_self_ = 0;
  }
  // Rebuild from the feeds: a cursor name the host has never seen delivers everything again.
  fs::remove(journal_file, ec);
  unsigned char r[8];
  randombytes_buf(r, sizeof r);
  cursor = "issues-board-" + hex(r, sizeof r);
  std::string error;
  JournalReport none;
  journal_ = Journal::open(
      journal_file, [](const EventIn&) {}, &none, &error);
  if (!journal_ && hooks_.log) {
    hooks_.log(LogLevel::error, "cannot create the journal (" + error +
                                    "); the board works, and rebuilds at every start");
  }
  if (journal_ && !write_atomically(cursor_file, cursor + "\n", &error)) {
    // Without a recorded cursor the next start cannot trust the journal: rebuild then.
    journal_.reset();
    fs::remove(journal_file, ec);
    if (hooks_.log) hooks_.log(LogLevel::error, "" + error);
  }
  glue_.rebuilding = !why.empty();
  glue_.cursor = cursor;
  if (hooks_.log && !why.empty()) {
    hooks_.log(LogLevel::warn, "" + why + "; rebuilding the board from the feeds");
  }
  return cursor;
}

void Service::refresh_members_locked(bool force) {
  auto now = Clock::now();
  if (!force && members_at_ != Clock::time_point{} && now - members_at_ < kMembersMaxAge) return;
  members_at_ = now;
  std::optional<std::vector<Member>> list;
  if (hooks_.members) list = hooks_.members();
  members_known_ = list.has_value();
  std::map<std::string, std::string, std::less<>> fresh;
  if (list) {
    for (auto& m : *list) fresh[m.id] = m.name;
  }
  fresh.emplace(self_, "");
  members_ = std::move(fresh);
}

void Service::forget_members() {
  std::lock_guard lock(members_mu_);
  members_at_ = Clock::time_point{};
}

bool Service::is_member(const std::string& origin) {
  std::lock_guard lock(members_mu_);
  refresh_members_locked(false);  // at most once a second, and after forget_members()
  if (members_.count(origin)) return true;
  refresh_members_locked(true);
  return !members_known_ || members_.count(origin) != 0;
}

std::string Service::name_of(std::string_view origin) {
  std::lock_guard lock(members_mu_);
  refresh_members_locked(false);
  auto it = members_.find(origin);
  return it == members_.end() ? std::string() : it->second;
}

void Service::log_refusal(const std::string& origin, std::uint64_t seq, const std::string& repo,
                          const std::string& issue, const Problem& p) {
  if (!hooks_.log) return;
  auto now = Clock::now();
  if (now - log_window_ > kLogWindow) {
    if (glue_.refusals_unlogged > 0 && logged_in_window_ >= kLogBurst) {
      hooks_.log(LogLevel::warn, "more refusals were not logged (" +
                                     std::to_string(glue_.refusals_unlogged) +
                                     " in all; mesh issues status lists the last ones)");
    }
    log_window_ = now;
    logged_in_window_ = 0;
  }
  if (logged_in_window_ >= kLogBurst) {
    ++glue_.refusals_unlogged;
    return;
  }
  ++logged_in_window_;
  std::string where = repo.empty() ? "" : " (repo " + repo;
  if (!issue.empty()) where += (where.empty() ? " (" : ", ") + std::string("issue ") + issue;
  if (!where.empty()) where += ")";
  hooks_.log(LogLevel::warn, "refused op " + origin + " #" + std::to_string(seq) + where + ": " +
                                 p.reason + ": " + p.message);
}

bool Service::on_event(const EventIn& event) {
  std::vector<Waiter> ready;
  std::vector<std::pair<std::string, std::string>> changed;
  {
    std::lock_guard lock(mu_);
    const std::string origin(event.origin);
    if (!is_member(origin)) {
      // The core stores only members' events; one whose origin is not a member now (removed
      // since) does not count here. Acknowledged and not journaled: a rebuild judges it again.
      ++glue_.non_member;
      log_refusal(origin, event.seq, {}, {},
                  Problem{"member", origin + " is not a member of this mesh"});
      return true;
    }
    ApplyResult r = board_.apply(event);
    if (r.outcome == Outcome::deferred) return false;
    if (r.outcome != Outcome::duplicate && journal_) {
      std::string error;
      if (!journal_->append(event, &error)) journal_failed(error);
    }
    if (r.outcome == Outcome::refused) {
      log_refusal(origin, event.seq, r.repo, r.issue, r.problem);
    }
    for (const auto& rr : r.released_refused) {
      log_refusal(rr.origin, rr.seq, rr.repo, rr.issue, rr.problem);
    }
    if ((r.outcome == Outcome::applied || r.released > 0) && !r.repo.empty()) {
      changed.emplace_back(r.repo, r.issue);
    }
    if (origin == self_ && r.outcome != Outcome::duplicate) {
      taken_self_ = std::max(taken_self_, event.seq);
      self_outcomes_[event.seq] = Taken{true, r.outcome, r.problem};
      while (self_outcomes_.size() > kSelfOutcomes) self_outcomes_.erase(self_outcomes_.begin());
    }
    auto keep = std::stable_partition(waiters_.begin(), waiters_.end(),
                                      [&](const Waiter& w) { return w.seq > taken_self_; });
    std::move(keep, waiters_.end(), std::back_inserter(ready));
    waiters_.erase(keep, waiters_.end());
  }
  for (auto& w : ready) {
    Taken t;
    {
      std::lock_guard lock(mu_);
      auto it = self_outcomes_.find(w.seq);
      t = it != self_outcomes_.end() ? it->second : Taken{true, Outcome::applied, {}};
    }
    w.done(t);
  }
  if (hooks_.changed) {
    for (const auto& [repo, issue] : changed) hooks_.changed(repo, issue);
  }
  return true;
}

void Service::journal_failed(const std::string& why) {
  ++glue_.journal_failures;
  journal_.reset();
  std::error_code ec;
  // Without the journal and its cursor the next start rebuilds from the feeds, so nothing
  // taken since is lost; until then the board works from memory.
  fs::remove(dir_ / "journal", ec);
  fs::remove(dir_ / "cursor", ec);
  if (hooks_.log) {
    hooks_.log(LogLevel::error, "cannot write the journal (" + why +
                                    "); it is dropped and the board is rebuilt at the next start");
  }
}

Service::Published Service::act(const std::function<Planned<std::vector<Op>>(const Board&)>& plan) {
  Published out;
  std::lock_guard lock(mu_);
  Planned<std::vector<Op>> ops = plan(board_);
  if (!ops) {
    out.ok = false;
    out.error = ops.problem.message;
    return out;
  }
  std::vector<std::string> payloads;
  // This node's own quota, with the ops of this batch counted: the board would refuse the op
  // that passes it, so it is a clear error here and nothing is published.
  MemberUsage usage = board_.usage(self_);
  const MemberLimits& limits = board_.member_limits();
  for (const Op& op : *ops.value) {
    Encoded e = encode_for_publish(op);
    if (!e) {
      out.ok = false;
      out.error = e.problem.message;
      return out;
    }
    usage.bytes += e.payload.size();
    usage.issues += op.kind == Kind::create;
    usage.comments += op.kind == Kind::comment;
    std::string over;
    if (usage.bytes > limits.bytes) {
      over = std::to_string(limits.bytes) + " bytes of issue ops (max_bytes_per_member)";
    } else if (usage.issues > limits.issues) {
      over = std::to_string(limits.issues) + " issues (max_issues_per_member)";
    } else if (usage.comments > limits.comments) {
      over = std::to_string(limits.comments) + " comments (max_comments_per_member)";
    }
    if (!over.empty()) {
      out.ok = false;
      out.error = "this member has reached its limit of " + over +
                  ", a setting of [plugins.issues]; every node refuses more";
      return out;
    }
    payloads.push_back(std::move(e.payload));
  }
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    std::uint64_t seq = 0;
    std::string error;
    if (!hooks_.publish || !hooks_.publish(payloads[i], &seq, &error)) {
      out.ok = false;
      out.error = "cannot publish: " + (error.empty() ? std::string("no event service") : error);
      if (i > 0)
        out.error += " (" + std::to_string(i) + " of " + std::to_string(payloads.size()) +
                     " ops were published)";
      return out;
    }
    const Op& op = (*ops.value)[i];
    if (op.kind == Kind::create) {
      auto& c = claimed_[op.repo];
      c = std::max(c, op.num);
    }
    out.seqs.push_back(seq);
    out.last_seq = seq;
  }
  return out;
}

std::uint64_t Service::next_number(const Board& board, const std::string& repo) const {
  std::uint64_t n = issues::next_number(board, repo);
  auto it = claimed_.find(repo);
  if (it != claimed_.end()) n = std::max(n, it->second + 1);
  return n;
}

void Service::when_taken(std::uint64_t seq, Clock::time_point deadline,
                         std::function<void(Taken)> done) {
  Taken now;
  {
    std::lock_guard lock(mu_);
    if (seq > taken_self_) {
      waiters_.push_back(Waiter{seq, deadline, std::move(done)});
      return;
    }
    auto it = self_outcomes_.find(seq);
    now = it != self_outcomes_.end() ? it->second : Taken{true, Outcome::applied, {}};
  }
  done(now);
}

void Service::expire(Clock::time_point now) {
  std::vector<Waiter> late;
  {
    std::lock_guard lock(mu_);
    auto keep = std::stable_partition(waiters_.begin(), waiters_.end(),
                                      [&](const Waiter& w) { return w.deadline > now; });
    std::move(keep, waiters_.end(), std::back_inserter(late));
    waiters_.erase(keep, waiters_.end());
  }
  for (auto& w : late) w.done(Taken{});
}

void Service::cancel_waiters() {
  std::vector<Waiter> all;
  {
    std::lock_guard lock(mu_);
    all.swap(waiters_);
  }
  for (auto& w : all) w.done(Taken{});
}

GlueStats Service::glue_stats() const {
  std::lock_guard lock(mu_);
  return glue_;
}

}  // namespace mesh::issues
