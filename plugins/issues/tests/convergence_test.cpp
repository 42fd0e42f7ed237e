// The property the design rests on: a board is a function of the set of ops. Three simulated
// nodes act on their own (partial) views and exchange their feeds in random order; then every
// node, and fresh boards fed random interleavings of the same feeds (each origin in seq order,
// as the host guarantees), must hold exactly the same state.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "planner.hpp"
#include "query.hpp"
#include "test_util.hpp"

using namespace mesh::issues;
using namespace mesh::issues::test;

namespace {

const std::vector<std::string> kRepos = {"my-app", "web"};
const std::vector<std::string> kLabels = {"bug", "ui", "P1", "good first issue"};
const std::vector<std::string> kPeople = {"alice", "bob", "carol"};

std::string dump(const Board& board) {
  std::ostringstream out;
  for (const auto& name : board.repo_names()) {
    const Repo& repo = *board.repo(name);
    out << "repo " << name << "\n";
    for (const Issue* i : board_order(repo)) {
      out << display_ref(repo, *i) << " " << i->id << " num=" << i->num << " by " << i->author
          << " order=" << i->order.value << " state=" << state_name(i->state.value.state) << "/"
          << i->state.value.commit << " title=" << i->title.value << " body=" << i->body.value
          << " created=" << i->created_ms << " updated=" << i->updated_ms << "\n  labels:";
      for (const auto& l : i->labels.values()) {
        out << " " << l << "[";
        for (const auto& t : i->labels.tags(l)) out << t.substr(0, 6) << ",";
        out << "]";
      }
      out << "\n  assignees:";
      for (const auto& w : i->assignees.values())
        out << " " << w << "x" << i->assignees.tags(w).size();
      out << "\n";
      for (const Comment* c : comments_in_order(*i)) {
        out << "  comment " << c->id << " by " << c->author << " edited=" << c->edited_ms << ": "
            << c->body.value << "\n";
      }
    }
  }
  BoardStats s = board.stats();
  out << "issues=" << s.issues << " applied=" << s.applied << " refused=" << s.refused
      << " pending=" << s.pending << "\n";
  for (const auto& [reason, n] : s.refused_by_reason)
    out << "refused " << reason << "=" << n << "\n";
  for (const auto& [origin, u] : board.usage_by_member()) {
    out << "usage " << origin << " issues=" << u.issues << " comments=" << u.comments
        << " bytes=" << u.bytes << "\n";
  }
  for (const auto& g : board.pending()) {
    out << "waiting " << g.origin << " " << g.repo << " " << g.count << " " << g.waiting_for
        << "\n";
  }
  return out.str();
}

struct Replica {
  Node node;
  Board board;
  std::map<std::string, std::size_t> cursor;  // origin -> events of it delivered here
  explicit Replica(std::string origin) : node(std::move(origin)) {}
};

class Simulation {
 public:
  explicit Simulation(std::uint64_t seed) : rng_(seed), random_(seeded(seed * 7 + 1)) {
    for (int i = 0; i < 3; ++i) replicas_.emplace_back("mesh:r" + std::to_string(i));
  }

  void run(int steps) {
    for (int s = 0; s < steps; ++s) {
      Replica& r = replicas_[pick(replicas_.size())];
      if (pick(100) < 45) {
        act(r);
      } else {
        Replica& from = replicas_[pick(replicas_.size())];
        if (&from != &r) receive(r, from.node.origin, 1 + pick(6));
      }
    }
    for (auto& r : replicas_) {
      for (auto& from : replicas_) {
        if (&from != &r) receive(r, from.node.origin, feeds_[from.node.origin].size());
      }
    }
  }

  std::map<std::string, std::vector<StoredEvent>> feeds_;
  std::vector<Replica> replicas_;
  std::size_t conflicts_made = 0;

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

  void publish(Replica& r, const Op& op) { publish_raw(r, encode_op(op)); }
  void publish_raw(Replica& r, std::string payload) {
    StoredEvent e = r.node.raw(std::move(payload));
    feeds_[r.node.origin].push_back(e);
    r.cursor[r.node.origin] = feeds_[r.node.origin].size();
    r.board.apply(e.view());  // a node gets its own events through its subscription too
  }
  void receive(Replica& r, const std::string& origin, std::size_t n) {
    auto& feed = feeds_[origin];
    std::size_t& at = r.cursor[origin];
    for (std::size_t k = 0; k < n && at < feed.size(); ++k, ++at) {
      r.node.observe(feed[at].lamport);
      ApplyResult res = r.board.apply(feed[at].view());
      EXPECT_NE(res.outcome, Outcome::deferred);
      EXPECT_NE(res.outcome, Outcome::duplicate);
    }
  }

  const Issue* some_issue(Replica& r, const std::string& repo_name) {
    const Repo* repo = r.board.repo(repo_name);
    if (!repo || repo->issues.empty()) return nullptr;
    auto it = repo->issues.begin();
    std::advance(it, static_cast<long>(pick(repo->issues.size())));
    return &it->second;
  }

  void act(Replica& r) {
    const std::string& repo = any(kRepos);
    const Issue* issue = some_issue(r, repo);
    std::size_t what = issue ? pick(16) : 0;
    auto with_ops = [&](const Planned<std::vector<Op>>& p) {
      ASSERT_TRUE(p) << p.problem.message;
      for (const Op& op : *p.value) publish(r, op);
    };
    switch (what) {
      case 0: {
        std::vector<std::string> labels;
        if (pick(2)) labels.push_back(any(kLabels));
        auto p = plan_create(r.board, repo, "issue " + std::to_string(pick(1000)), "body", labels,
                             random_);
        ASSERT_TRUE(p) << p.problem.message;
        publish(r, *p.value);
        break;
      }
      case 1: {
        Op op = issue_op(Kind::edit_title, repo, issue->id);
        op.title = "title " + std::to_string(pick(1000));
        publish(r, op);
        ++conflicts_made;
        break;
      }
      case 2: {
        Op op = issue_op(Kind::edit_body, repo, issue->id);
        op.body = "body " + std::to_string(pick(1000));
        publish(r, op);
        break;
      }
      case 3: {
        Op op = issue_op(Kind::set_state, repo, issue->id);
        op.state = pick(2) ? State::closed : State::open;
        if (op.state == State::closed && pick(2))
          op.commit = std::string(40, static_cast<char>('a' + pick(6)));
        publish(r, op);
        break;
      }
      case 4:
        with_ops(plan_add_label(r.board, *issue, any(kLabels)));
        break;
      case 5:
        with_ops(plan_remove_label(*issue, any(kLabels)));
        break;
      case 6:
        with_ops(plan_assign(*issue, any(kPeople)));
        break;
      case 7:
        with_ops(plan_unassign(*issue, any(kPeople)));
        break;
      case 8:
      case 9: {
        Op op = issue_op(Kind::comment, repo, issue->id);
        op.body = "comment " + std::to_string(pick(1000));
        publish(r, op);
        break;
      }
      case 10: {  // edit a comment: its own (applied) or someone else's (refused everywhere)
        auto comments = comments_in_order(*issue);
        if (comments.empty()) break;
        Op op = issue_op(Kind::edit_comment, repo, issue->id);
        op.comment = any(comments)->id;
        op.body = "edited " + std::to_string(pick(1000));
        publish(r, op);
        break;
      }
      case 11:
      case 12: {
        const Issue* target = some_issue(r, repo);
        if (target == issue) break;
        with_ops(
            plan_move(r.board, *issue, pick(2) ? Place::before : Place::after, *target, random_));
        break;
      }
      case 13: {  // an op for an issue whose create never comes: waits forever, visibly
        Op op =
            issue_op(Kind::edit_title, repo, std::string(31, 'e') + "0123456789abcdef"[pick(16)]);
        op.title = "ghost";
        publish(r, op);
        break;
      }
      case 14:  // junk and unknown kinds from a member: refused, never stops anything
        publish_raw(r, pick(2) ? "{\"v\":1,\"op\":\"explode\",\"repo\":\"" + repo + "\"}"
                               : std::string("not json at all"));
        break;
      case 15: {  // an op naming the wrong repo for an existing issue
        Op op = issue_op(Kind::edit_title, repo == "web" ? "my-app" : "web", issue->id);
        op.title = "wrong repo";
        publish(r, op);
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  Random random_;
};

// Every origin's feed in seq order, interleaved at random.
std::vector<const StoredEvent*> interleave(
    const std::map<std::string, std::vector<StoredEvent>>& feeds, std::mt19937_64& rng) {
  std::vector<const StoredEvent*> out;
  std::map<std::string, std::size_t> at;
  std::size_t total = 0;
  for (const auto& [o, f] : feeds) total += f.size();
  while (out.size() < total) {
    std::vector<std::string> ready;
    for (const auto& [o, f] : feeds) {
      if (at[o] < f.size()) ready.push_back(o);
    }
    const std::string& o = ready[rng() % ready.size()];
    // Runs of several events from one origin, like a link catching up.
    std::size_t run = 1 + rng() % 8;
    for (std::size_t k = 0; k < run && at[o] < feeds.at(o).size(); ++k) {
      out.push_back(&feeds.at(o)[at[o]++]);
    }
  }
  return out;
}

}  // namespace

TEST(IssuesConvergence, SameOpsSameStateInAnyDeliveryOrder) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Simulation sim(seed);
    sim.run(900);
    std::string expected = dump(sim.replicas_[0].board);
    for (std::size_t i = 1; i < sim.replicas_.size(); ++i) {
      ASSERT_EQ(dump(sim.replicas_[i].board), expected) << "replica " << i << " seed " << seed;
    }
    std::size_t events = 0;
    for (const auto& [o, f] : sim.feeds_) events += f.size();
    BoardStats st = sim.replicas_[0].board.stats();
    // The run exercised what it is meant to: several issues, refusals, ops left waiting.
    EXPECT_GT(st.issues, 10u);
    EXPECT_GT(st.refused, 0u);
    EXPECT_GT(st.pending, 0u);
    std::mt19937_64 rng(seed * 1000);
    for (int shuffle = 0; shuffle < 12; ++shuffle) {
      Board fresh;
      for (const StoredEvent* e : interleave(sim.feeds_, rng)) fresh.apply(e->view());
      ASSERT_EQ(dump(fresh), expected) << "seed " << seed << " shuffle " << shuffle;
    }
    // The extreme interleavings: whole feeds one after another, in both orders.
    Board forward, backward;
    for (auto it = sim.feeds_.begin(); it != sim.feeds_.end(); ++it) {
      for (const auto& e : it->second) forward.apply(e.view());
    }
    for (auto it = sim.feeds_.rbegin(); it != sim.feeds_.rend(); ++it) {
      for (const auto& e : it->second) backward.apply(e.view());
    }
    EXPECT_EQ(dump(forward), expected);
    EXPECT_EQ(dump(backward), expected);
    std::printf("seed %llu: %zu events, %zu issues, %llu refused, %zu waiting\n",
                static_cast<unsigned long long>(seed), events, st.issues,
                static_cast<unsigned long long>(st.refused), st.pending);
  }
}

// Member limits are charged in each member's own seq order, so the op that passes one is the
// same in every interleaving: boards with tight limits fed the same feeds in any order agree.
TEST(IssuesConvergence, MemberLimitsRefuseTheSameOpsInAnyDeliveryOrder) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Simulation sim(seed);
    sim.run(900);
    std::uint64_t most_bytes = 0;
    for (const auto& [origin, u] : sim.replicas_[0].board.usage_by_member()) {
      most_bytes = std::max(most_bytes, u.bytes);
    }
    MemberLimits tight{4, 6, std::max<std::uint64_t>(most_bytes / 2, 1)};
    Board reference(WaitingLimits{}, tight);
    for (auto it = sim.feeds_.begin(); it != sim.feeds_.end(); ++it) {
      for (const auto& e : it->second) reference.apply(e.view());
    }
    std::string expected = dump(reference);
    EXPECT_GT(reference.stats().refused_by_reason["quota"], 0u) << "seed " << seed;
    for (const auto& [origin, u] : reference.usage_by_member()) {
      EXPECT_LE(u.issues, tight.issues);
      EXPECT_LE(u.comments, tight.comments);
      EXPECT_LE(u.bytes, tight.bytes);
    }
    std::mt19937_64 rng(seed * 77);
    for (int shuffle = 0; shuffle < 8; ++shuffle) {
      Board fresh(WaitingLimits{}, tight);
      for (const StoredEvent* e : interleave(sim.feeds_, rng)) fresh.apply(e->view());
      ASSERT_EQ(dump(fresh), expected) << "seed " << seed << " shuffle " << shuffle;
    }
  }
}

TEST(IssuesConvergence, ConcurrentMovesConvergeToOneOrder) {
  // a and b, partitioned, move the same cards around; once they exchange feeds both boards
  // show the same order, and so does a node that gets b's feed first.
  Replica a("mesh:a"), b("mesh:b");
  auto random = seeded(5);
  std::vector<StoredEvent> fa, fb;
  auto pub = [](Replica& r, std::vector<StoredEvent>& feed, const Op& op) {
    feed.push_back(r.node.publish(op));
    r.board.apply(feed.back().view());
  };
  for (int i = 0; i < 6; ++i) {
    pub(a, fa, *plan_create(a.board, "my-app", "card " + std::to_string(i), "", {}, random).value);
  }
  for (const auto& e : fa) {
    b.node.observe(e.lamport);
    b.board.apply(e.view());
  }
  std::mt19937_64 rng(9);
  for (int round = 0; round < 40; ++round) {
    for (auto* side : {&a, &b}) {
      auto order = board_order(*side->board.repo("my-app"));
      const Issue* mover = order[rng() % order.size()];
      const Issue* target = order[rng() % order.size()];
      if (mover == target) continue;
      auto p =
          plan_move(side->board, *mover, rng() % 2 ? Place::before : Place::after, *target, random);
      ASSERT_TRUE(p);
      for (const Op& op : *p.value) pub(*side, side == &a ? fa : fb, op);
    }
  }
  for (const auto& e : fb) a.board.apply(e.view());
  for (std::size_t i = 6; i < fa.size(); ++i) b.board.apply(fa[i].view());
  Board c;
  for (const auto& e : fb) c.apply(e.view());  // b's moves first: they wait for the creates
  for (const auto& e : fa) c.apply(e.view());
  auto titles = [](const Board& board) {
    std::vector<std::string> out;
    for (const Issue* i : board_order(*board.repo("my-app"))) out.push_back(i->title.value);
    return out;
  };
  EXPECT_EQ(titles(a.board), titles(b.board));
  EXPECT_EQ(titles(c), titles(a.board));
  EXPECT_EQ(titles(a.board).size(), 6u);
}
