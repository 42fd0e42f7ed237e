// The access decision on its own: every rule, without sockets.
#include <gtest/gtest.h>

#include "mesh/http/access.hpp"

using namespace mesh::http;

namespace {

AccessQuery query(Client client, std::optional<Access> route, std::string_view method = "GET") {
  AccessQuery q;
  q.client = client;
  q.route = route;
  q.method = method;
  return q;
}

}  // namespace

TEST(HttpAccess, ClassifiesClients) {
  EXPECT_EQ(classify_client(true, false, false), Client::member);
  EXPECT_EQ(classify_client(true, true, true), Client::member);
  EXPECT_EQ(classify_client(false, true, true), Client::local);
  EXPECT_EQ(classify_client(false, true, false), Client::stranger);
  EXPECT_EQ(classify_client(false, false, true), Client::stranger);
}

TEST(HttpAccess, StrangersReachOpenRoutesOnly) {
  EXPECT_TRUE(decide_access(query(Client::stranger, Access::open, "POST")).allowed());
  for (auto route : {std::optional<Access>(Access::member), std::optional<Access>(Access::local),
                     std::optional<Access>()}) {
    auto d = decide_access(query(Client::stranger, route));
    EXPECT_EQ(d.refusal, Refusal::member_required);
    EXPECT_EQ(d.status(), 403u);
    EXPECT_EQ(d.body(), "a member certificate is required\n");
  }
  // A bad target or an upgrade looks the same to a stranger: nothing leaks.
  auto bad = query(Client::stranger, Access::open);
  bad.target_ok = false;
  EXPECT_EQ(decide_access(bad).refusal, Refusal::member_required);
  auto ws = query(Client::stranger, std::nullopt);
  ws.websocket = true;
  EXPECT_EQ(decide_access(ws).refusal, Refusal::member_required);
}

TEST(HttpAccess, MembersAndLocalClients) {
  EXPECT_TRUE(decide_access(query(Client::member, Access::member)).allowed());
  EXPECT_TRUE(decide_access(query(Client::member, Access::open)).allowed());
  EXPECT_TRUE(decide_access(query(Client::member, std::nullopt)).allowed());  // then 404/405
  auto member_ui = decide_access(query(Client::member, Access::local));
  EXPECT_EQ(member_ui.refusal, Refusal::local_only);
  EXPECT_EQ(member_ui.status(), 403u);
  auto ui = query(Client::local, Access::local);
  ui.host = "localhost";
  EXPECT_TRUE(decide_access(ui).allowed());
  auto git = query(Client::local, Access::member);
  git.host = "127.0.0.1:7979";
  EXPECT_TRUE(decide_access(git).allowed());
  auto bad = git;
  bad.target_ok = false;
  EXPECT_EQ(decide_access(bad).refusal, Refusal::bad_target);
  EXPECT_EQ(decide_access(bad).status(), 400u);
}

TEST(HttpAccess, WebsocketUpgradesAreForMembersOnly) {
  auto q = query(Client::member, std::nullopt);
  q.websocket = true;
  EXPECT_TRUE(decide_access(q).allowed());
  q.client = Client::local;
  q.host = "localhost";
  EXPECT_EQ(decide_access(q).refusal, Refusal::member_required);
}

namespace {

AccessQuery local(std::string_view method, std::optional<Access> route, std::string_view host) {
  auto q = query(Client::local, route, method);
  q.host = host;
  q.port = 7979;
  return q;
}

}  // namespace

TEST(HttpAccess, LoopbackHostNames) {
  for (const char* ok : {"localhost", "localhost:7979", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:80",
                         "127.1.2.3:7979", "[::1]", "[::1]:7979", "[::ffff:127.0.0.1]:5"}) {
    EXPECT_TRUE(loopback_host(ok)) << ok;
  }
  for (const char* bad : {"", "evil.example", "evil.example:7979", "localhost.evil.example",
                          "127.0.0.1.nip.io", "10.0.0.1:7979", "[::2]", "::1", "user@localhost",
                          "192.168.1.5", "0.0.0.0", "localhost:7979/x", "[::ffff:10.0.0.1]"}) {
    EXPECT_FALSE(loopback_host(bad)) << bad;
  }
}

TEST(HttpAccess, SameOriginMeansALoopbackNameAndOurPort) {
  for (const char* ok : {"http://localhost:7979", "https://localhost:7979", "http://127.0.0.1:7979",
                         "https://[::1]:7979", "http://127.9.9.9:7979"}) {
    EXPECT_TRUE(same_origin(ok, 7979)) << ok;
  }
  for (const char* bad :
       {"null", "", "http://evil.example:7979", "http://localhost:7980", "http://localhost",
        "ftp://localhost:7979", "http://localhost:7979/", "http://user@localhost:7979",
        "http://localhost:07979x", "https://localhost.evil.example:7979"}) {
    EXPECT_FALSE(same_origin(bad, 7979)) << bad;
  }
  EXPECT_TRUE(same_origin("http://localhost", 80));  // the scheme's default port
  EXPECT_TRUE(same_origin("https://localhost", 443));
  EXPECT_TRUE(same_origin_referer("http://127.0.0.1:7979/repos/app/issues?x=1", 7979));
  EXPECT_FALSE(same_origin_referer("http://evil.example:7979/", 7979));
  EXPECT_FALSE(same_origin_referer("/relative", 7979));
}

TEST(HttpAccess, LoopbackTrustNeedsALoopbackHost) {
  for (auto route : {std::optional<Access>(Access::local), std::optional<Access>(Access::member),
                     std::optional<Access>()}) {
    auto d = decide_access(local("GET", route, "evil.example:7979"));
    EXPECT_EQ(d.refusal, Refusal::misdirected);
    EXPECT_EQ(d.status(), 421u);
    EXPECT_NE(d.body().find("Host"), std::string_view::npos);
    EXPECT_EQ(decide_access(local("GET", route, "")).refusal, Refusal::misdirected);
    EXPECT_TRUE(decide_access(local("GET", route, "localhost:1234")).allowed());
  }
  // A bad target behind a foreign Host learns nothing either.
  auto bad = local("GET", std::nullopt, "evil.example");
  bad.target_ok = false;
  EXPECT_EQ(decide_access(bad).refusal, Refusal::misdirected);
  // An open route needs no loopback trust: judged like anyone's.
  EXPECT_TRUE(decide_access(local("POST", Access::open, "evil.example")).allowed());
  // Members are exempt: their certificate is the authentication.
  auto m = query(Client::member, Access::member, "POST");
  m.host = "evil.example";
  m.origin = "http://evil.example";
  EXPECT_TRUE(decide_access(m).allowed());
}

TEST(HttpAccess, StateChangingRequestsNeedNoOrSameOrigin) {
  auto git = local("POST", Access::member, "localhost:7979");  // git and curl send no Origin
  EXPECT_TRUE(decide_access(git).allowed());
  git.origin = "http://localhost:7979";
  EXPECT_TRUE(decide_access(git).allowed());
  for (const char* foreign : {"http://evil.example", "null", "http://localhost:8080"}) {
    git.origin = foreign;
    auto d = decide_access(git);
    EXPECT_EQ(d.refusal, Refusal::cross_origin) << foreign;
    EXPECT_EQ(d.status(), 403u);
  }
  // Reading is not state-changing: a foreign Origin on GET is the browser's concern (CORS).
  for (const char* method : {"GET", "HEAD", "OPTIONS"}) {
    auto get = local(method, Access::member, "localhost");
    get.origin = "http://evil.example";
    EXPECT_TRUE(decide_access(get).allowed()) << method;
  }
  for (const char* method : {"PUT", "DELETE", "PATCH", "PROPFIND"}) {
    auto q = local(method, std::nullopt, "localhost");
    q.origin = "http://evil.example";
    EXPECT_EQ(decide_access(q).refusal, Refusal::cross_origin) << method;
  }
}

TEST(HttpAccess, UiFormsNeedTheCsrfTokenAndASameOriginSource) {
  auto post = local("POST", Access::local, "localhost:7979");
  post.origin = "http://localhost:7979";
  EXPECT_EQ(decide_access(post).refusal, Refusal::csrf_token);  // no token
  post.csrf = CsrfProof::mismatch;
  EXPECT_EQ(decide_access(post).refusal, Refusal::csrf_token);
  post.csrf = CsrfProof::valid;
  EXPECT_TRUE(decide_access(post).allowed());
  // Without Origin a same-origin Referer will do; with neither, the token alone is not enough.
  post.origin = {};
  EXPECT_EQ(decide_access(post).refusal, Refusal::csrf_origin);
  post.referer = "http://127.0.0.1:7979/repos/app";
  EXPECT_TRUE(decide_access(post).allowed());
  post.referer = "http://evil.example/";
  EXPECT_EQ(decide_access(post).refusal, Refusal::csrf_origin);
  // Reading a page needs neither.
  EXPECT_TRUE(decide_access(local("GET", Access::local, "localhost")).allowed());
}

TEST(HttpAccess, CsrfTokensCompareExactly) {
  EXPECT_EQ(check_csrf("secret-token", std::nullopt), CsrfProof::absent);
  EXPECT_EQ(check_csrf("secret-token", "secret-token"), CsrfProof::valid);
  EXPECT_EQ(check_csrf("secret-token", "secret-tokeN"), CsrfProof::mismatch);
  EXPECT_EQ(check_csrf("secret-token", "secret"), CsrfProof::mismatch);
  EXPECT_EQ(check_csrf("secret-token", ""), CsrfProof::mismatch);
  // No token configured: nothing matches, not even an empty one.
  EXPECT_EQ(check_csrf("", ""), CsrfProof::mismatch);
  EXPECT_EQ(check_csrf("", "x"), CsrfProof::mismatch);
}
