// The fold of a run's records: the writer rules, and that every arrival order gives one state.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include <boost/json.hpp>

#include "limits.hpp"
#include "run_book.hpp"
#include "run_status.hpp"
#include "test_util.hpp"

using namespace mesh::ci;
using namespace mesh::ci::test;

namespace {

const std::string A = node('a');  // originator (received the push)
const std::string B = node('b');
const std::string C = node('c');  // the labelled runner

// Writes records as nodes would: per-origin seq, and a Lamport clock that each node advances
// past everything it has seen (here: everything written before, as in a connected mesh).
struct Mesh {
  std::map<std::string, std::uint64_t> seq;
  std::uint64_t lamport = 0;
  std::uint64_t wall = 1'000'000;
  std::vector<std::pair<Envelope, Record>> log;

  const std::pair<Envelope, Record>& write(const std::string& origin, RecordBody body,
                                           std::string run = id_of(created())) {
    Envelope e{origin, ++seq[origin], ++lamport, wall += 1000};
    log.emplace_back(e, Record{std::move(run), std::move(body)});
    return log.back();
  }
};

// The happy path of the issue: A creates, assigns C; C claims, runs build then test.
Mesh happy_path() {
  Mesh m;
  m.write(A, created());
  m.write(A, assigned(1, C));
  m.write(C, RunClaimed{1, 2'000'000});
  m.write(C, job(1, "build", JobPhase::running));
  m.write(C, LeaseRenewed{1, 2'100'000});
  m.write(C, job(1, "build", JobPhase::passed, 0));
  m.write(C, job(1, "test", JobPhase::running));
  m.write(C, job(1, "test", JobPhase::passed, 0));
  m.write(C, ended(1, RunPhase::passed));
  return m;
}

std::string feed(RunBook& book, const std::pair<Envelope, Record>& e) {
  auto r = book.apply(e.second, e.first);
  std::string out;
  for (const auto& n : r.notes) out += (out.empty() ? "" : "; ") + n;
  return out;
}

// Applies a scenario's records one by one; returns the note of the last.
std::string fold_all(RunBook& book, const Mesh& m) {
  std::string last;
  for (const auto& e : m.log) last = feed(book, e);
  return last;
}

std::string status(const RunBook& book) {
  const RunState* s = book.find(id_of(created()));
  if (!s) return "none";
  return boost::json::serialize(
      run_status_json(*s, [](std::string_view id) { return std::string(id); }));
}

// A random interleaving that keeps each origin's own order (what gossip guarantees).
std::vector<std::pair<Envelope, Record>> shuffle_per_origin(const Mesh& m, std::mt19937& rng) {
  std::map<std::string, std::vector<std::size_t>> by_origin;
  for (std::size_t i = 0; i < m.log.size(); ++i) by_origin[m.log[i].first.origin].push_back(i);
  std::map<std::string, std::size_t> next;
  std::vector<std::pair<Envelope, Record>> out;
  while (out.size() < m.log.size()) {
    std::vector<std::string> ready;
    for (const auto& [o, idx] : by_origin) {
      if (next[o] < idx.size()) ready.push_back(o);
    }
    const auto& o = ready[rng() % ready.size()];
    out.push_back(m.log[by_origin[o][next[o]++]]);
  }
  return out;
}

}  // namespace

TEST(CiRunFold, HappyPath) {
  RunBook book;
  Mesh m = happy_path();
  for (const auto& e : m.log) EXPECT_EQ(feed(book, e), "") << record_type(e.second);
  const RunState* s = book.find(id_of(created()));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->phase, RunPhase::passed);
  EXPECT_EQ(s->originator, A);
  EXPECT_EQ(s->assignee(), C);
  EXPECT_EQ(s->ended_by, C);
  ASSERT_EQ(s->jobs.size(), 2u);
  EXPECT_EQ(s->jobs[0].phase, JobPhase::passed);
  EXPECT_EQ(s->jobs[0].exit_code, 0);
  EXPECT_GT(s->jobs[0].ended_ms, s->jobs[0].started_ms);
  EXPECT_EQ(s->current()->lease_until_ms, 2'100'000u);
  auto json = boost::json::parse(status(book)).as_object();
  EXPECT_EQ(json["state"].as_string(), "passed");
  EXPECT_EQ(std::string(json["runner"].as_object()["id"].as_string()), C);
  EXPECT_EQ(json["jobs"].as_array()[1].as_object()["state"].as_string(), "passed");
  EXPECT_EQ(json["trigger"].as_string(), "push");
}

TEST(CiRunFold, EveryArrivalOrderGivesTheSameState) {
  // Scenarios with concurrency: a decline and reassignment, a cancel racing the end, a
  // duplicate creator, a claim by a node that is not the assignee.
  std::vector<Mesh> scenarios;
  scenarios.push_back(happy_path());
  {
    Mesh m;
    m.write(A, created());
    m.write(A, assigned(1, B));
    m.write(B, RunDeclined{1, "mode docker is not allowed on this node"});
    m.write(C, RunClaimed{1, 5});  // C was never assigned: ignored
    m.write(A, assigned(2, C, "bob declined: mode docker is not allowed on this node"));
    m.write(C, RunClaimed{2, 3'000'000});
    m.write(C, job(2, "build", JobPhase::running));
    m.write(B, CancelRequested{"by bob"});
    m.write(C, job(2, "build", JobPhase::failed, 2));
    m.write(C, job(2, "test", JobPhase::skipped));
    m.write(C, ended(2, RunPhase::failed, "job build failed (exit 2)"));
    m.write(B, job(2, "test", JobPhase::passed, 0));  // from a non-assignee, after the end
    scenarios.push_back(std::move(m));
  }
  {
    Mesh m;  // two nodes received the same push and both created the run
    m.write(A, created());
    m.write(B, created());
    m.write(B, assigned(1, B));
    m.write(A, assigned(1, C));
    m.write(C, RunClaimed{1, 2'000'000});
    m.write(B, RunClaimed{1, 2'000'000});
    m.write(C, job(1, "build", JobPhase::running));
    scenarios.push_back(std::move(m));
  }
  std::mt19937 rng(7);
  for (std::size_t k = 0; k < scenarios.size(); ++k) {
    RunBook in_order;
    fold_all(in_order, scenarios[k]);
    const std::string want = status(in_order);
    for (int round = 0; round < 200; ++round) {
      RunBook book;
      for (const auto& e : shuffle_per_origin(scenarios[k], rng)) feed(book, e);
      ASSERT_EQ(status(book), want) << "scenario " << k << " round " << round;
    }
  }
  RunBook second;
  fold_all(second, scenarios[1]);
  const RunState* s = second.find(id_of(created()));
  EXPECT_EQ(s->phase, RunPhase::failed);
  EXPECT_EQ(s->reason, "job build failed (exit 2)");
  EXPECT_EQ(s->attempts.size(), 2u);
  EXPECT_EQ(s->jobs[1].phase, JobPhase::skipped);
  EXPECT_TRUE(s->cancel.has_value());
  RunBook third;
  fold_all(third, scenarios[2]);
  s = third.find(id_of(created()));
  EXPECT_EQ(s->originator, A);  // the first run.created in (lamport, origin) order
  EXPECT_EQ(s->assignee(), C);
  EXPECT_EQ(s->phase, RunPhase::running);
}

TEST(CiRunFold, ReplayReconsidersLaterRecords) {
  // B's copy of the run arrives first and B assigns itself; then A's earlier run.created
  // arrives: A is the originator, B's assignment no longer counts.
  Mesh m;
  auto a_created = m.write(A, created());
  auto b_created = m.write(B, created());
  auto b_assign = m.write(B, assigned(1, B));
  RunBook book;
  EXPECT_EQ(feed(book, b_created), "");
  EXPECT_EQ(feed(book, b_assign), "");
  EXPECT_EQ(book.find(id_of(created()))->assignee(), B);
  auto r = book.apply(a_created.second, a_created.first);
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.changed);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_NE(r.notes[0].find("run already created by " + A), std::string::npos) << r.notes[0];
  EXPECT_NE(r.notes[1].find("only the originator " + A + " assigns"), std::string::npos)
      << r.notes[1];
  EXPECT_EQ(book.find(id_of(created()))->assignee(), "");
  EXPECT_EQ(book.find(id_of(created()))->phase, RunPhase::queued);
  // The same record again is a no-op.
  auto again = book.apply(a_created.second, a_created.first);
  EXPECT_FALSE(again.accepted);
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.notes.empty());
}

TEST(CiRunFold, WriterRules) {
  Mesh m;
  RunBook book;
  auto note = [&](const std::string& origin, RecordBody body) {
    return feed(book, m.write(origin, std::move(body)));
  };
  EXPECT_EQ(note(B, RunClaimed{1, 1}), "run.claimed from " + B + ": record before run.created");
  RunCreated forged = created();
  forged.sha = sha('f');  // the id no longer matches its inputs
  EXPECT_NE(note(A, forged).find("run id does not match"), std::string::npos);
  EXPECT_EQ(note(A, created()), "");
  EXPECT_NE(note(B, assigned(1, B)).find("only the originator"), std::string::npos);
  EXPECT_NE(note(A, assigned(2, C, "x")).find("out of turn"), std::string::npos);
  RunAssigned no_docker = assigned(1, C);
  no_docker.runners = {{"shell", "shell"}};
  EXPECT_NE(note(A, no_docker).find("no runner for mode docker"), std::string::npos);
  EXPECT_EQ(note(A, assigned(1, C)), "");
  EXPECT_NE(note(B, RunClaimed{1, 1}).find("not the assignee"), std::string::npos);
  EXPECT_NE(note(C, RunClaimed{2, 1}).find("but the run is at attempt 1"), std::string::npos);
  EXPECT_NE(note(C, job(1, "build", JobPhase::running)).find("before the claim"),
            std::string::npos);
  EXPECT_NE(note(C, LeaseRenewed{1, 9}).find("before the claim"), std::string::npos);
  EXPECT_EQ(note(C, RunClaimed{1, 1'500'000}), "");
  EXPECT_NE(note(C, RunClaimed{1, 1}).find("already claimed"), std::string::npos);
  EXPECT_NE(note(C, RunDeclined{1, "x"}).find("already claimed"), std::string::npos);
  EXPECT_NE(note(C, job(1, "test", JobPhase::running)).find("before its dependency build passed"),
            std::string::npos);
  EXPECT_NE(note(C, job(1, "test", JobPhase::skipped)).find("no dependency failed"),
            std::string::npos);
  EXPECT_NE(note(C, job(1, "build", JobPhase::passed, 0)).find("passed without running"),
            std::string::npos);
  EXPECT_NE(note(C, job(1, "nope", JobPhase::running)).find("unknown job"), std::string::npos);
  EXPECT_NE(note(C, ended(1, RunPhase::passed)).find("while job build is pending"),
            std::string::npos);
  EXPECT_EQ(note(C, job(1, "build", JobPhase::running)), "");
  EXPECT_NE(note(C, job(1, "build", JobPhase::pending)).find("back to pending"), std::string::npos);
  EXPECT_NE(note(C, job(1, "build", JobPhase::running)).find("already running"), std::string::npos);
  EXPECT_EQ(note(C, LeaseRenewed{1, 1'400'000}), "");  // an older deadline does not shorten it
  EXPECT_EQ(book.find(id_of(created()))->current()->lease_until_ms, 1'500'000u);
  EXPECT_NE(note(B, ended(1, RunPhase::no_runner, "x")).find("only the originator"),
            std::string::npos);
  EXPECT_NE(note(B, ended(1, RunPhase::passed)).find("only the assignee"), std::string::npos);
  EXPECT_NE(note(B, ended(1, RunPhase::failed, "reaped")).find("before the run was orphaned"),
            std::string::npos);
  EXPECT_NE(note(A, ended(1, RunPhase::no_runner, "x")).find("a runner claimed"),
            std::string::npos);
  EXPECT_EQ(note(C, job(1, "build", JobPhase::failed, 1)), "");
  EXPECT_NE(note(C, job(1, "build", JobPhase::passed, 0)).find("already failed"),
            std::string::npos);
  EXPECT_EQ(note(C, job(1, "test", JobPhase::skipped, std::nullopt)), "");
  EXPECT_EQ(note(C, ended(1, RunPhase::failed, "job build failed")), "");
  EXPECT_NE(note(C, job(1, "test", JobPhase::running)).find("after the run ended"),
            std::string::npos);
  EXPECT_NE(note(A, ended(1, RunPhase::cancelled, "x")).find("already ended"), std::string::npos);
  EXPECT_NE(note(B, CancelRequested{"late"}).find("after the run ended"), std::string::npos);
  EXPECT_NE(note(A, assigned(2, B, "x")).find("after the run ended"), std::string::npos);
  EXPECT_NE(note(A, created()).find("duplicate run.created"), std::string::npos);
  EXPECT_EQ(book.find(id_of(created()))->phase, RunPhase::failed);
}

TEST(CiRunFold, ReassignmentStartsJobsAgainAndRemembersWhoTried) {
  Mesh m;
  RunBook book;
  auto note = [&](const std::string& origin, RecordBody body) {
    return feed(book, m.write(origin, std::move(body)));
  };
  note(A, created());
  note(A, assigned(1, B));
  EXPECT_EQ(note(B, RunDeclined{1, "no docker here"}), "");
  EXPECT_NE(note(B, RunClaimed{1, 1}).find("declined"), std::string::npos);
  EXPECT_NE(note(B, RunDeclined{1, "again"}).find("already declined"), std::string::npos);
  const RunState* s = book.find(id_of(created()));
  EXPECT_EQ(s->tried_nodes(), std::vector<std::string>{B});
  EXPECT_EQ(note(A, assigned(2, C, "bob declined: no docker here")), "");
  EXPECT_EQ(note(C, RunClaimed{2, 5'000'000}), "");
  EXPECT_EQ(note(C, job(2, "build", JobPhase::running)), "");
  // C goes silent; A reassigns to B's second chance... after the lease: attempt 3.
  EXPECT_EQ(note(A, assigned(3, A, "carol's lease ran out")), "");
  s = book.find(id_of(created()));
  EXPECT_EQ(s->phase, RunPhase::assigned);
  EXPECT_EQ(s->jobs[0].phase, JobPhase::pending);  // a fresh start on the new runner
  EXPECT_EQ(s->jobs[0].started_ms, 0u);
  EXPECT_EQ(s->tried_nodes(), (std::vector<std::string>{A, B, C}));
  // C's late report of its attempt is refused.
  EXPECT_NE(note(C, job(2, "build", JobPhase::passed, 0)).find("the run is at attempt 3"),
            std::string::npos);
  // Attempts are bounded.
  EXPECT_EQ(note(A, assigned(4, B, "x")), "");
  EXPECT_EQ(note(A, assigned(5, C, "x")), "");
  RunAssigned sixth = assigned(5, A, "x");
  sixth.attempt = 6;
  auto enc = encode_record(Record{id_of(created()), sixth});
  EXPECT_FALSE(enc.ok());  // the record cannot even be written
}

TEST(CiRunFold, CancelRules) {
  Mesh m;
  RunBook book;
  auto note = [&](const std::string& origin, RecordBody body) {
    return feed(book, m.write(origin, std::move(body)));
  };
  note(A, created());
  note(A, assigned(1, C));
  EXPECT_EQ(note(B, CancelRequested{"by bob"}), "");  // anyone may ask
  EXPECT_NE(note(A, CancelRequested{"again"}).find("already requested"), std::string::npos);
  EXPECT_NE(note(A, assigned(2, B, "x")).find("after a cancel request"), std::string::npos);
  // Before any claim, the originator ends it.
  EXPECT_EQ(note(A, ended(1, RunPhase::cancelled, "cancelled by bob before it started")), "");
  const RunState* s = book.find(id_of(created()));
  EXPECT_EQ(s->phase, RunPhase::cancelled);
  EXPECT_EQ(s->jobs[0].phase, JobPhase::skipped);
  EXPECT_EQ(s->jobs[0].reason, "run cancelled: cancelled by bob before it started");
  EXPECT_EQ(s->cancel->by, B);
}

TEST(CiRunFold, OrphansAreReapedByAnyMemberAfterTheGrace) {
  Mesh m;
  RunBook book;
  auto note = [&](const std::string& origin, RecordBody body) {
    return feed(book, m.write(origin, std::move(body)));
  };
  note(A, created());
  note(A, assigned(1, C));
  note(C, RunClaimed{1, m.wall + 30'000});
  note(C, job(1, "build", JobPhase::running));
  const std::uint64_t lease = book.find(id_of(created()))->deadline_ms();
  EXPECT_GT(lease, 0u);
  m.wall = lease + limits::kOrphanGraceMs - 2000;
  EXPECT_NE(note(B, ended(1, RunPhase::failed, "orphaned")).find("before the run was orphaned"),
            std::string::npos);
  EXPECT_NE(note(B, ended(1, RunPhase::cancelled, "x")).find("without a cancel request"),
            std::string::npos);
  m.wall = lease + limits::kOrphanGraceMs;
  EXPECT_EQ(
      note(B, ended(1, RunPhase::failed, "carol stopped renewing its lease and alice is gone")),
      "");
  const RunState* s = book.find(id_of(created()));
  EXPECT_EQ(s->phase, RunPhase::failed);
  EXPECT_EQ(s->ended_by, B);
  EXPECT_EQ(s->jobs[0].phase, JobPhase::cancelled);
  EXPECT_EQ(s->jobs[1].phase, JobPhase::skipped);
  // A queued run whose originator never assigned it is an orphan too.
  Mesh q;
  RunBook qb;
  RunCreated other = created();
  other.sha = sha('e');
  std::string other_id = id_of(other);
  feed(qb, q.write(A, other, other_id));
  q.wall += limits::kOrphanGraceMs;
  EXPECT_EQ(feed(qb, q.write(C, ended(0, RunPhase::failed, "alice never assigned it"), other_id)),
            "");
  EXPECT_EQ(qb.find(other_id)->phase, RunPhase::failed);
}

TEST(CiRunFold, OriginatorEndsRunsThatCannotRun) {
  Mesh m;
  RunBook book;
  RunCreated bad = created({});  // the pipeline did not parse: no jobs
  bad.pipeline = "";
  EXPECT_EQ(feed(book, m.write(A, bad)), "");
  EXPECT_NE(feed(book, m.write(A, assigned(1, C))).find("without jobs"), std::string::npos);
  EXPECT_EQ(
      feed(book, m.write(A, ended(0, RunPhase::failed, "mesh-ci.yml:3:5: unknown key 'job'"))), "");
  const RunState* s = book.find(id_of(created()));
  EXPECT_EQ(s->phase, RunPhase::failed);
  EXPECT_EQ(s->reason, "mesh-ci.yml:3:5: unknown key 'job'");
  Mesh n;
  RunBook nb;
  feed(nb, n.write(A, created()));
  EXPECT_EQ(
      feed(nb,
           n.write(
               A, ended(0, RunPhase::no_runner,
                        "no runner up for modes docker, shell with label linux (fallback: none)"))),
      "");
  EXPECT_EQ(nb.find(id_of(created()))->phase, RunPhase::no_runner);
  EXPECT_EQ(nb.find(id_of(created()))->assignee(), "");  // nothing ran anywhere
}

TEST(CiRunFold, ConcurrentClaimAndReassignResolveTheSameWayEverywhere) {
  // A gives up on C's claim at the same time as C claims: whichever sorts first decides.
  for (bool claim_first : {true, false}) {
    Mesh m;
    m.write(A, created());
    m.write(A, assigned(1, C));
    Envelope claim{C, 1, 0, 1'500'000};
    Envelope reassign{A, 3, 0, 1'500'000};
    claim.lamport = claim_first ? 3 : 4;
    reassign.lamport = claim_first ? 4 : 3;
    m.log.emplace_back(claim, Record{id_of(created()), RunClaimed{1, 2'000'000}});
    m.log.emplace_back(reassign,
                       Record{id_of(created()), assigned(2, B, "carol did not claim within 10 s")});
    RunBook forward, backward;
    for (const auto& e : m.log) feed(forward, e);
    feed(backward, m.log[0]);
    feed(backward, m.log[1]);
    feed(backward, m.log[3]);
    feed(backward, m.log[2]);
    EXPECT_EQ(status(forward), status(backward));
    const RunState* s = forward.find(id_of(created()));
    // The originator may reassign a claimed run (it reaps lost leases), so B holds the run
    // either way; only whether C's claim counted for attempt 1 depends on the order.
    EXPECT_EQ(s->assignee(), B);
    EXPECT_EQ(s->phase, RunPhase::assigned);
    ASSERT_EQ(s->attempts.size(), 2u);
    EXPECT_EQ(s->attempts[0].claimed, claim_first);
    EXPECT_EQ(s->tried_nodes(), (std::vector<std::string>{B, C}));
  }
}

TEST(CiRunBook, ListsAndLimits) {
  RunBook book(2);
  Mesh m;
  RunCreated c1 = created();
  RunCreated c2 = created();
  c2.sha = sha('b');
  RunCreated c3 = created();
  c3.sha = sha('c');
  feed(book, m.write(A, c1, id_of(c1)));
  feed(book, m.write(A, c2, id_of(c2)));
  EXPECT_NE(feed(book, m.write(A, c3, id_of(c3))).find("already tracks 2 runs"), std::string::npos);
  auto runs = book.runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]->id, id_of(c2));  // newest first
  EXPECT_EQ(book.find_prefix(id_of(c1).substr(0, 6)).size(), 1u);
  EXPECT_EQ(book.find_prefix("").size(), 2u);
  book.forget(id_of(c1));
  EXPECT_EQ(book.find(id_of(c1)), nullptr);
  EXPECT_EQ(book.size(), 1u);
  LogSegment seg;
  EXPECT_NE(feed(book, m.write(C, seg, id_of(c2))).find("not a run control record"),
            std::string::npos);
  // Records per run are bounded.
  RunBook big;
  Mesh b;
  feed(big, b.write(A, created()));
  std::string last;
  for (std::size_t i = 0; i < limits::kRecordsPerRun + 5; ++i)
    last = feed(big, b.write(B, CancelRequested{"x"}));
  EXPECT_NE(last.find("more than 1024 records"), std::string::npos) << last;
}
