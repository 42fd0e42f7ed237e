// encode_record / decode_record: the JSON form of the `ci` records (docs/protocol.md).
#include <boost/json.hpp>

#include "crypto.hpp"
#include "limits.hpp"
#include "names.hpp"
#include "records.hpp"
#include "text.hpp"

namespace mesh::ci {
namespace json = boost::json;
namespace {

constexpr std::int64_t kVersion = 1;
constexpr std::size_t kTriggerKeyBytes = 256;

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

void put_slot_key(json::object& o, const SlotKey& k) {
  o["repo"] = k.repo;
  o["branch"] = k.branch;
  o["pipeline"] = clean_text(k.pipeline, limits::kNameBytes);
  o["job"] = k.job;
  o["at_s"] = k.at_s;
}

std::string_view fallback_name(Fallback f) {
  return f == Fallback::any ? "any" : "none";
}

// Reads fields of one object; the first problem sticks and names the field.
class Fields {
 public:
  explicit Fields(const json::object& o) : o_(o) {}
  bool ok() const { return err_.empty(); }
  const std::string& error() const { return err_; }

  std::string str(std::string_view key, std::size_t max, bool (*valid)(std::string_view) = nullptr,
                  bool required = true) {
    const json::value* v = o_.if_contains(key);
    if (!v) {
      if (required) bad(key, "missing");
      return {};
    }
    if (!v->is_string()) {
      bad(key, "not a string");
      return {};
    }
    std::string_view s = v->get_string();
    if (s.size() > max) {
      bad(key, "longer than " + std::to_string(max) + " bytes");
      return {};
    }
    if (valid && !(s.empty() && !required) && !valid(s)) {
      bad(key, "invalid");
      return {};
    }
    return std::string(s);
  }

  std::uint64_t u64(std::string_view key, bool required = true) {
    const json::value* v = o_.if_contains(key);
    if (!v) {
      if (required) bad(key, "missing");
      return 0;
    }
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    bad(key, "not a non-negative integer");
    return 0;
  }

  std::int64_t i64(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v && v->is_int64()) return v->get_int64();
    if (v && v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->get_uint64());
    bad(key, v ? "not an integer" : "missing");
    return 0;
  }

  std::uint32_t attempt() {
    auto a = u64("attempt");
    if (ok() && (a == 0 || a > limits::kMaxAttempts)) bad("attempt", "out of range");
    return static_cast<std::uint32_t>(a);
  }

  bool boolean(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (!v) return false;
    if (!v->is_bool()) {
      bad(key, "not a boolean");
      return false;
    }
    return v->get_bool();
  }

  std::vector<std::string> list(std::string_view key, std::size_t max_items,
                                bool (*valid)(std::string_view), bool required = false) {
    std::vector<std::string> out;
    const json::value* v = o_.if_contains(key);
    if (!v) {
      if (required) bad(key, "missing");
      return out;
    }
    if (!v->is_array() || v->get_array().size() > max_items) {
      bad(key, "not a list of at most " + std::to_string(max_items));
      return out;
    }
    for (const auto& item : v->get_array()) {
      if (!item.is_string() || !valid(item.get_string())) {
        bad(key, "has an invalid item");
        return out;
      }
      out.emplace_back(item.get_string());
    }
    return out;
  }

  const json::object& object() const { return o_; }

  void bad(std::string_view key, const std::string& why) {
    if (err_.empty()) err_ = "field '" + std::string(key) + "': " + why;
  }

 private:
  const json::object& o_;
  std::string err_;
};

bool any_text(std::string_view s) {
  return valid_utf8(s);
}
bool valid_trigger(std::string_view s) {
  return s == "push" || s == "manual" || s == "schedule";
}

SlotKey read_slot_key(Fields& f) {
  SlotKey k;
  k.repo = f.str("repo", 100, valid_repo_name);
  k.branch = f.str("branch", 255,
                   [](std::string_view b) { return valid_ref("refs/heads/" + std::string(b)); });
  k.pipeline = f.str("pipeline", limits::kNameBytes, valid_pipeline_name);
  k.job = f.str("job", limits::kNameBytes, valid_job_name, false);
  k.at_s = f.i64("at_s");
  if (f.ok() && k.at_s % 60 != 0) f.bad("at_s", "not minute-aligned");
  return k;
}

Result<RecordBody> read_body(std::string_view t, Fields& f) {
  const auto& o = f.object();
  if (t == "run.created") {
    RunCreated c;
    c.repo = f.str("repo", 100, valid_repo_name);
    c.ref = f.str("ref", 255, valid_ref);
    c.sha = f.str("sha", 40, valid_sha);
    c.trigger = f.str("trigger", 16, valid_trigger);
    c.trigger_key = f.str("trigger_key", kTriggerKeyBytes, any_text);
    if (f.ok() && !c.trigger_key.starts_with(c.trigger))
      f.bad("trigger_key", "does not match trigger");
    c.pipeline = f.str("pipeline", limits::kNameBytes, valid_pipeline_name, false);
    c.labels = f.list("labels", limits::kLabels, valid_label);
    auto fb = f.str("fallback", 8, [](std::string_view s) { return s == "any" || s == "none"; });
    c.fallback = fb == "any" ? Fallback::any : Fallback::none;
    const json::value* jobs = o.if_contains("jobs");
    if (!jobs || !jobs->is_array() || jobs->get_array().size() > limits::kJobs) {
      f.bad("jobs", "not a list of at most 64 jobs");
    } else {
      for (const auto& j : jobs->get_array()) {
        if (!j.is_object()) {
          f.bad("jobs", "has an item that is not an object");
          break;
        }
        Fields jf(j.get_object());
        JobSpec spec;
        spec.name = jf.str("name", limits::kNameBytes, valid_job_name);
        spec.mode = jf.str("mode", limits::kModeBytes, valid_mode);
        spec.needs = jf.list("needs", limits::kJobs, valid_job_name);
        if (!jf.ok()) {
          f.bad("jobs", jf.error());
          break;
        }
        c.jobs.push_back(std::move(spec));
      }
    }
    return RecordBody{std::move(c)};
  }
  if (t == "run.assigned" || t == "run.reassigned") {
    RunAssigned a;
    a.attempt = f.attempt();
    a.node = f.str("node", 64, valid_node_id);
    a.claim_by_ms = f.u64("claim_by_ms");
    a.reason = f.str("reason", limits::kReasonBytes, any_text, t == "run.reassigned");
    if (f.ok() && (t == "run.reassigned") != (a.attempt > 1))
      f.bad("attempt", "run.assigned is attempt 1, run.reassigned a later one");
    const json::value* r = o.if_contains("runners");
    if (!r || !r->is_object() || r->get_object().empty() ||
        r->get_object().size() > limits::kJobs) {
      f.bad("runners", "not an object of mode -> runner");
    } else {
      for (const auto& [mode, name] : r->get_object()) {
        if (!valid_mode(mode) || !name.is_string() || !valid_runner_name(name.get_string())) {
          f.bad("runners", "invalid mode or runner name");
          break;
        }
        a.runners.emplace_back(std::string(mode), std::string(name.get_string()));
      }
    }
    return RecordBody{std::move(a)};
  }
  if (t == "run.claimed") {
    RunClaimed c;
    c.attempt = f.attempt();
    c.lease_until_ms = f.u64("lease_until_ms");
    return RecordBody{c};
  }
  if (t == "run.declined") {
    RunDeclined d;
    d.attempt = f.attempt();
    d.reason = f.str("reason", limits::kReasonBytes, any_text);
    return RecordBody{std::move(d)};
  }
  if (t == "run.lease") {
    LeaseRenewed l;
    l.attempt = f.attempt();
    l.lease_until_ms = f.u64("lease_until_ms");
    return RecordBody{l};
  }
  if (t == "job.state") {
    JobUpdate u;
    u.attempt = f.attempt();
    u.job = f.str("job", limits::kNameBytes, valid_job_name);
    auto state = job_phase_from(f.str("state", 16));
    if (!state) f.bad("state", "not a job state");
    u.state = state.value_or(JobPhase::pending);
    if (const json::value* e = o.if_contains("exit_code")) {
      if (e->is_int64() && e->get_int64() >= INT32_MIN && e->get_int64() <= INT32_MAX) {
        u.exit_code = static_cast<std::int32_t>(e->get_int64());
      } else if (!e->is_null()) {
        f.bad("exit_code", "not a 32-bit integer");
      }
    }
    u.started_ms = f.u64("started_ms", false);
    u.ended_ms = f.u64("ended_ms", false);
    u.reason = f.str("reason", limits::kReasonBytes, any_text, false);
    return RecordBody{std::move(u)};
  }
  if (t == "run.ended") {
    RunEnded e;
    e.attempt = static_cast<std::uint32_t>(f.u64("attempt"));
    if (f.ok() && e.attempt > limits::kMaxAttempts) f.bad("attempt", "out of range");
    auto state = run_phase_from(f.str("state", 16));
    if (!state || !is_terminal(*state)) f.bad("state", "not a terminal run state");
    e.state = state.value_or(RunPhase::failed);
    e.reason = f.str("reason", limits::kReasonBytes, any_text, false);
    if (f.ok() && e.state != RunPhase::passed && e.reason.empty())
      f.bad("reason", "required unless the run passed");
    return RecordBody{std::move(e)};
  }
  if (t == "run.cancel") {
    CancelRequested c;
    c.reason = f.str("reason", limits::kReasonBytes, any_text, false);
    return RecordBody{std::move(c)};
  }
  if (t == "slot.claimed") {
    SlotClaimed s;
    s.key = read_slot_key(f);
    s.slot = f.str("slot", 64, valid_run_id);
    s.run = f.str("run_id", 64, valid_run_id);
    if (f.ok() && s.slot != slot_id(s.key)) f.bad("slot", "does not match its key");
    return RecordBody{std::move(s)};
  }
  if (t == "slot.missed") {
    SlotMissed s;
    s.key = read_slot_key(f);
    s.slot = f.str("slot", 64, valid_run_id);
    s.reason = f.str("reason", limits::kReasonBytes, any_text);
    if (f.ok() && s.slot != slot_id(s.key)) f.bad("slot", "does not match its key");
    return RecordBody{std::move(s)};
  }
  if (t == "log.segment") {
    LogSegment s;
    s.attempt = f.attempt();
    s.job = f.str("job", limits::kNameBytes, valid_job_name);
    s.seq = f.u64("seq");
    s.offset = f.u64("offset");
    s.raw_len = f.u64("raw_len");
    s.last = f.boolean("last");
    s.dropped = f.u64("dropped", false);
    auto b64 = f.str("data", limits::kEventBytes);
    if (f.ok()) {
      auto data = base64_decode(b64);
      if (!data || data->size() > limits::kSegmentDataBytes) {
        f.bad("data", "not base64 of at most 36 KiB");
      } else {
        s.data = std::move(*data);
      }
    }
    if (f.ok() && s.raw_len > limits::kSegmentRawBytes) f.bad("raw_len", "over 1 MiB");
    return RecordBody{std::move(s)};
  }
  return fail("unknown record type '" + clean_text(t, 32) + "'");
}

}  // namespace

std::string_view record_type(const Record& r) {
  return std::visit(overloaded{
                        [](const RunCreated&) -> std::string_view { return "run.created"; },
                        [](const RunAssigned& a) -> std::string_view {
                          return a.attempt > 1 ? "run.reassigned" : "run.assigned";
                        },
                        [](const RunClaimed&) -> std::string_view { return "run.claimed"; },
                        [](const RunDeclined&) -> std::string_view { return "run.declined"; },
                        [](const LeaseRenewed&) -> std::string_view { return "run.lease"; },
                        [](const JobUpdate&) -> std::string_view { return "job.state"; },
                        [](const RunEnded&) -> std::string_view { return "run.ended"; },
                        [](const CancelRequested&) -> std::string_view { return "run.cancel"; },
                        [](const SlotClaimed&) -> std::string_view { return "slot.claimed"; },
                        [](const SlotMissed&) -> std::string_view { return "slot.missed"; },
                        [](const LogSegment&) -> std::string_view { return "log.segment"; },
                    },
                    r.body);
}

Result<std::string> encode_record(const Record& r) {
  json::object o;
  o["v"] = kVersion;
  o["t"] = record_type(r);
  if (!r.run.empty()) o["run"] = r.run;
  auto reason = [](const std::string& s) { return clean_text(s, limits::kReasonBytes); };
  std::visit(overloaded{
                 [&](const RunCreated& c) {
                   o["repo"] = c.repo;
                   o["ref"] = c.ref;
                   o["sha"] = c.sha;
                   o["trigger"] = c.trigger;
                   o["trigger_key"] = c.trigger_key;
                   o["pipeline"] = clean_text(c.pipeline, limits::kNameBytes);
                   o["labels"] = strings(c.labels);
                   o["fallback"] = fallback_name(c.fallback);
                   json::array jobs;
                   for (const auto& j : c.jobs) {
                     jobs.push_back(json::object{
                         {"name", j.name}, {"mode", j.mode}, {"needs", strings(j.needs)}});
                   }
                   o["jobs"] = std::move(jobs);
                 },
                 [&](const RunAssigned& a) {
                   o["attempt"] = a.attempt;
                   o["node"] = a.node;
                   json::object runners;
                   for (const auto& [mode, name] : a.runners) runners[mode] = name;
                   o["runners"] = std::move(runners);
                   o["claim_by_ms"] = a.claim_by_ms;
                   if (!a.reason.empty()) o["reason"] = reason(a.reason);
                 },
                 [&](const RunClaimed& c) {
                   o["attempt"] = c.attempt;
                   o["lease_until_ms"] = c.lease_until_ms;
                 },
                 [&](const RunDeclined& d) {
                   o["attempt"] = d.attempt;
                   o["reason"] = reason(d.reason);
                 },
                 [&](const LeaseRenewed& l) {
                   o["attempt"] = l.attempt;
                   o["lease_until_ms"] = l.lease_until_ms;
                 },
                 [&](const JobUpdate& u) {
                   o["attempt"] = u.attempt;
                   o["job"] = u.job;
                   o["state"] = to_string(u.state);
                   if (u.exit_code) o["exit_code"] = *u.exit_code;
                   if (u.started_ms) o["started_ms"] = u.started_ms;
                   if (u.ended_ms) o["ended_ms"] = u.ended_ms;
                   if (!u.reason.empty()) o["reason"] = reason(u.reason);
                 },
                 [&](const RunEnded& e) {
                   o["attempt"] = e.attempt;
                   o["state"] = to_string(e.state);
                   if (!e.reason.empty()) o["reason"] = reason(e.reason);
                 },
                 [&](const CancelRequested& c) {
                   if (!c.reason.empty()) o["reason"] = reason(c.reason);
                 },
                 [&](const SlotClaimed& s) {
                   put_slot_key(o, s.key);
                   o["slot"] = s.slot;
                   o["run_id"] = s.run;
                 },
                 [&](const SlotMissed& s) {
                   put_slot_key(o, s.key);
                   o["slot"] = s.slot;
                   o["reason"] = reason(s.reason);
                 },
                 [&](const LogSegment& s) {
                   o["attempt"] = s.attempt;
                   o["job"] = s.job;
                   o["seq"] = s.seq;
                   o["offset"] = s.offset;
                   o["raw_len"] = s.raw_len;
                   if (s.last) o["last"] = true;
                   if (s.dropped) o["dropped"] = s.dropped;
                   o["data"] = base64_encode(s.data);
                 },
             },
             r.body);
  std::string out = json::serialize(o);
  if (out.size() > limits::kEventBytes)
    return fail(std::string(record_type(r)) + " record of " + std::to_string(out.size()) +
                " bytes is over the 64 KiB event limit");
  // What we write must read back: a record the others would refuse is a bug here.
  if (auto back = decode_record(out); !back)
    return fail("refusing to publish an invalid " + std::string(record_type(r)) +
                " record: " + back.error().message);
  return out;
}

Result<Record> decode_record(std::string_view text) {
  if (text.size() > limits::kEventBytes) return fail("record over 64 KiB");
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail("record is not a JSON object");
  const json::object& o = v.get_object();
  const json::value* ver = o.if_contains("v");
  if (!ver || !ver->is_int64() || ver->get_int64() != kVersion)
    return fail("record version is not 1");
  const json::value* t = o.if_contains("t");
  if (!t || !t->is_string()) return fail("record has no type");
  std::string_view type = t->get_string();
  Fields f(o);
  Record r;
  bool needs_run = type != "slot.missed";
  r.run = f.str("run", 64, valid_run_id, needs_run);
  if (!needs_run && o.contains("run")) f.bad("run", "not expected");
  auto body = read_body(type, f);
  if (!body) return body.error();
  if (!f.ok()) return fail(std::string(type.substr(0, 32)) + ": " + f.error());
  r.body = std::move(*body);
  if (auto* s = std::get_if<SlotClaimed>(&r.body); s && s->run != r.run)
    return fail("slot.claimed: run and run_id differ");
  return r;
}

Result<std::string> encode_live_chunk(const LiveChunk& c) {
  if (c.data.size() > limits::kLiveChunkBytes) return fail("live chunk over 32 KiB");
  json::object o{{"v", kVersion}, {"run", c.run},       {"attempt", c.attempt},
                 {"job", c.job},  {"offset", c.offset}, {"data", base64_encode(c.data)}};
  auto out = json::serialize(o);
  if (auto back = decode_live_chunk(out); !back)
    return fail("invalid live chunk: " + back.error().message);
  return out;
}

Result<LiveChunk> decode_live_chunk(std::string_view text) {
  if (text.size() > limits::kEventBytes) return fail("live chunk over 64 KiB");
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail("live chunk is not a JSON object");
  Fields f(v.get_object());
  LiveChunk c;
  c.run = f.str("run", 64, valid_run_id);
  c.attempt = f.attempt();
  c.job = f.str("job", limits::kNameBytes, valid_job_name);
  c.offset = f.u64("offset");
  auto b64 = f.str("data", limits::kEventBytes);
  if (!f.ok()) return fail("live chunk: " + f.error());
  auto data = base64_decode(b64);
  if (!data || data->size() > limits::kLiveChunkBytes) return fail("live chunk: bad data");
  c.data = std::move(*data);
  return c;
}

}  // namespace mesh::ci
