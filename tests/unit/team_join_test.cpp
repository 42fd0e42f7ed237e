// The join handshake between a real inviter (JoinServer behind the real HTTP listener on
// 127.0.0.1:0) and a real joiner (join_inviter over TLS pinned to the token's key), each with
// its own gossip engine on a temp root. No mocks: the sockets, TLS and feeds are the real ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "invite_book.hpp"
#include "join_client.hpp"
#include "join_ledger.hpp"
#include "join_proof.hpp"
#include "join_server.hpp"
#include "mesh/gossip/engine.hpp"
#include "mesh/http/server.hpp"

using namespace mesh;
using namespace mesh::app::team;
using mesh::identity::Identity;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

fs::path temp_root(const std::string& tag) {
  static int n = 0;
  auto p = fs::temp_directory_path() /
           ("mesh-join-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

struct Side {
  std::string name;
  Identity id = Identity::generate();
  fs::path root;
  std::unique_ptr<gossip::Engine> engine;
  std::unique_ptr<JoinLedger> ledger;

  explicit Side(std::string n) : name(std::move(n)), root(temp_root(name)) {
    gossip::EngineOptions o;
    o.root = root;
    o.self = &id;
    o.self_name = name;
    o.now_ms = wall_ms;
    auto e = gossip::Engine::open(std::move(o));
    EXPECT_TRUE(e) << e.error().message;
    if (e) engine = std::move(*e);
    ledger = std::make_unique<JoinLedger>(root / "joins.json");
  }
  ~Side() {
    if (engine) engine->stop();
    engine.reset();
    fs::remove_all(root);
  }
};

struct JoinTest : ::testing::Test {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  Side alice{"alice"};
  std::unique_ptr<InviteBook> invites;
  std::unique_ptr<JoinServer> server;
  std::shared_ptr<http::Router> router = std::make_shared<http::Router>();
  std::unique_ptr<http::Server> listener;
  std::atomic<int> admitted{0};

  void SetUp() override {
    invites = std::make_unique<InviteBook>(alice.root / "invites.json", wall_ms);
    server = std::make_unique<JoinServer>(
        JoinServerContext{&alice.id, alice.engine.get(), invites.get(), alice.ledger.get(),
                          [] { return "alice"; }, wall_ms, [this] { ++admitted; }});
    server->register_route(*router);
    auto tls = alice.id.tls_material("alice");
    ASSERT_TRUE(tls);
    http::ServerOptions opts;
    opts.listen = config::HostPort{"127.0.0.1", 0};
    opts.tls = *tls;
    opts.is_member = [this](const identity::PublicKey& k) {
      return alice.engine->roster().is_member(k);
    };
    auto s = http::Server::start(io, std::move(opts), router);
    ASSERT_TRUE(s) << s.error().message;
    listener = std::move(*s);
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  void TearDown() override {
    if (listener) listener->stop();
    work.reset();
    for (auto& t : threads) t.join();
  }

  // A port with nothing listening: bound, then closed again.
  std::uint16_t closed_port() {
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    auto port = a.local_endpoint().port();
    a.close();
    return port;
  }

  gossip::Token token_for(const std::vector<std::string>& addresses, std::uint64_t ttl = 600) {
    auto inv = invites->issue(alice.id, "alice", addresses, ttl);
    EXPECT_TRUE(inv) << inv.error().message;
    auto t = gossip::parse_token(inv->token, wall_ms() / 1000);
    EXPECT_TRUE(t) << t.error().message;
    return *t;
  }

  struct Hints {
    std::mutex mu;
    std::vector<std::string> seen;
  };

  Result<JoinOutcome> join(Side& who, gossip::Token token, std::string name = "",
                           Hints* hints = nullptr) {
    JoinClientContext ctx;
    ctx.io = &io;
    ctx.self = &who.id;
    ctx.engine = who.engine.get();
    ctx.ledger = who.ledger.get();
    ctx.now_ms = wall_ms;
    if (hints) {
      ctx.add_hint = [hints](const identity::PublicKey&, const std::string& a) {
        std::lock_guard lock(hints->mu);
        hints->seen.push_back(a);
      };
    }
    std::promise<Result<JoinOutcome>> done;
    auto fut = done.get_future();
    join_inviter(std::move(ctx), std::move(token), name.empty() ? who.name : name,
                 {"127.0.0.1:1234"},
                 [&done](Result<JoinOutcome> r) { done.set_value(std::move(r)); });
    if (fut.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "join did not finish";
      return make_error(Errc::io, "hung");
    }
    return fut.get();
  }
};

TEST_F(JoinTest, BothSidesAdmitEachOtherAndShowTheSameCode) {
  Side bob("bob");
  auto token = token_for({listener->local_address()});
  Hints hints;
  auto out = join(bob, token, "", &hints);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->inviter_name, "alice");
  EXPECT_EQ(out->inviter_id, alice.id.id());
  EXPECT_EQ(out->code,
            gossip::confirmation_code(alice.id.public_key(), bob.id.public_key(), token.secret));
  EXPECT_EQ(out->members, 2u) << "the inviter answers its roster, newcomer included";
  EXPECT_TRUE(out->warnings.empty());
  EXPECT_TRUE(alice.engine->roster().is_member(bob.id.public_key()));
  EXPECT_TRUE(bob.engine->roster().is_member(alice.id.public_key()));
  auto admitted_bob = alice.engine->roster().find(bob.id.public_key());
  ASSERT_TRUE(admitted_bob);
  EXPECT_EQ(admitted_bob->name, "bob");
  EXPECT_EQ(admitted_bob->addresses, std::vector<std::string>{"127.0.0.1:1234"});
  EXPECT_EQ(admitted, 1);
  {
    std::lock_guard lock(hints.mu);
    EXPECT_EQ(hints.seen, std::vector<std::string>{listener->local_address()});
  }
  // The inviter's book and both ledgers know who joined, with the code.
  auto st = invites->state(token.secret);
  EXPECT_EQ(st.kind, InviteState::Kind::used);
  ASSERT_TRUE(st.use);
  EXPECT_EQ(st.use->id, bob.id.id());
  EXPECT_EQ(st.use->code, out->code);
  auto on_alice = alice.ledger->find(bob.id.id());
  ASSERT_TRUE(on_alice);
  EXPECT_EQ(on_alice->via, "invite");
  EXPECT_EQ(on_alice->code, out->code);
  auto on_bob = bob.ledger->find(alice.id.id());
  ASSERT_TRUE(on_bob);
  EXPECT_EQ(on_bob->via, "join");
}

TEST_F(JoinTest, AUsedTokenIsRefusedAndTheOtherAddressesAreNotTried) {
  Side bob("bob"), carol("carol");
  auto token = token_for({listener->local_address()});
  ASSERT_TRUE(join(bob, token));
  // Carol reuses it; a second, unreachable address after the refusal must not matter.
  token.addresses.push_back("127.0.0.1:" + std::to_string(closed_port()));
  auto again = join(carol, token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::denied);
  EXPECT_NE(again.error().message.find("already used"), std::string::npos) << again.error().message;
  EXPECT_FALSE(alice.engine->roster().is_member(carol.id.public_key()));
  EXPECT_FALSE(carol.engine->roster().is_member(alice.id.public_key()))
      << "a refused join leaves no half-state on the joiner";
}

TEST_F(JoinTest, AnUnreachableAddressIsSkippedForTheNextOne) {
  Side bob("bob");
  auto token = token_for({"127.0.0.1:" + std::to_string(closed_port()), listener->local_address()});
  // What make_token would refuse, as a parsed token could hold it: skipped with its reason.
  token.addresses.insert(token.addresses.begin() + 1, "not-an-address");
  auto out = join(bob, token);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(alice.engine->roster().is_member(bob.id.public_key()));
}

TEST_F(JoinTest, NoReachableAddressNamesEachReason) {
  Side bob("bob");
  std::string dead = "127.0.0.1:" + std::to_string(closed_port());
  auto token = token_for({dead});
  token.addresses.push_back("not-an-address");
  auto out = join(bob, token);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::io);
  const auto& msg = out.error().message;
  EXPECT_EQ(msg.rfind("could not reach the inviter", 0), 0u) << msg;
  EXPECT_NE(msg.find(dead + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("not-an-address: not HOST:PORT"), std::string::npos) << msg;
  EXPECT_EQ(invites->state(token.secret).kind, InviteState::Kind::open) << "nothing burnt";
}

TEST_F(JoinTest, ATokenFromAnotherKeyFailsThePinAndAdmitsNobody) {
  // An impostor's token pointing at alice's listener: TLS pins the impostor's key, which alice
  // does not present, so the request never reaches her.
  Side bob("bob");
  Identity impostor = Identity::generate();
  auto secret = gossip::random_secret();
  auto text = gossip::make_token(impostor, {listener->local_address()}, secret,
                                 wall_ms() / 1000 + 600, "alice");
  ASSERT_TRUE(text);
  auto token = gossip::parse_token(*text, wall_ms() / 1000);
  ASSERT_TRUE(token);
  auto out = join(bob, *token);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::io) << out.error().message;
  EXPECT_EQ(admitted, 0);
  EXPECT_EQ(alice.engine->roster().members().size(), 1u);
}

TEST_F(JoinTest, ASecondMemberWithTheSameNameIsWarnedOnBothSides) {
  Side bob1("bob"), bob2("bob");
  ASSERT_TRUE(join(bob1, token_for({listener->local_address()})));
  auto out = join(bob2, token_for({listener->local_address()}));
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_FALSE(out->warnings.empty());
  EXPECT_NE(out->warnings[0].find("already named 'bob'"), std::string::npos) << out->warnings[0];
  EXPECT_NE(out->warnings[0].find(bob1.id.id()), std::string::npos) << out->warnings[0];
  // The inviter's answer carried its own warning too (read straight from the server).
  auto inv = invites->issue(alice.id, "alice", {listener->local_address()}, 600);
  ASSERT_TRUE(inv);
  Side bob3("bob");
  auto t = gossip::parse_token(inv->token, wall_ms() / 1000);
  auto answer = server->answer(make_join_body(bob3.id, *t, "bob", {}));
  ASSERT_EQ(answer.status, 200u) << answer.body;
  auto doc = json::parse(answer.body);
  ASSERT_TRUE(doc.as_object().contains("warnings")) << answer.body;
  EXPECT_EQ(doc.at("warnings").as_array().size(), 2u) << answer.body;
}

TEST_F(JoinTest, BadRequestsAreRefusedWithoutBurningTheInvite) {
  Side bob("bob");
  auto token = token_for({listener->local_address()});
  std::string good = make_join_body(bob.id, token, "bob", {"127.0.0.1:1"});
  EXPECT_EQ(server->answer("not json").status, 400u);
  EXPECT_EQ(server->answer("{}").status, 400u);
  // A body signed for another name: the signature no longer matches.
  auto doc = json::parse(good).as_object();
  doc["name"] = "mallory";
  auto forged = server->answer(json::serialize(doc));
  EXPECT_EQ(forged.status, 403u) << forged.body;
  EXPECT_NE(forged.body.find("signature"), std::string::npos) << forged.body;
  doc = json::parse(good).as_object();
  doc["name"] = std::string(200, 'x');
  EXPECT_EQ(server->answer(json::serialize(doc)).status, 400u);
  doc = json::parse(good).as_object();
  doc["addresses"] = json::array{"no port"};
  EXPECT_EQ(server->answer(json::serialize(doc)).status, 400u);
  EXPECT_EQ(invites->state(token.secret).kind, InviteState::Kind::open);
  EXPECT_EQ(admitted, 0);
  // The untouched body still works once.
  EXPECT_EQ(server->answer(good).status, 200u);
  EXPECT_EQ(server->answer(good).status, 403u);
}

TEST_F(JoinTest, ARemovedKeyCannotJoinAgain) {
  Side bob("bob");
  ASSERT_TRUE(join(bob, token_for({listener->local_address()})));
  gossip::RosterOp op;
  op.kind = gossip::RosterOp::Kind::remove;
  op.key = bob.id.public_key();
  ASSERT_TRUE(alice.engine->publish(gossip::kRosterTopic, gossip::encode_roster_op(op)));
  auto token = token_for({listener->local_address()});
  auto out = join(bob, token);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("removed"), std::string::npos) << out.error().message;
  EXPECT_EQ(invites->state(token.secret).kind, InviteState::Kind::open);
}

}  // namespace
