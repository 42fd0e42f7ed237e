#include <iostream>

#include "cli.hpp"
#include "format.hpp"

#include <boost/program_options.hpp>
#include "mesh/app/app.hpp"
#include "mesh/identity/identity.hpp"

namespace mesh::cli {
namespace json = boost::json;
namespace po = boost::program_options;
namespace fs = std::filesystem;

int error(const std::string& message, int code) {
  std::string text = message;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::cerr << "error: " << text << "\n" << std::flush;
  return code;
}

void warn(const std::string& message) {
  std::cerr << "warning: " << message << "\n" << std::flush;
}

void print_json(const json::value& v) {
  std::cout << json::serialize(v) << "\n";
}

std::string start_hint(const Globals& g) {
  if (!g.root_flag) return "mesh start";
  std::string root = g.root.string();
  // Quote a root a shell would split.
  if (root.find_first_of(" \t'\"$`\\") != std::string::npos) root = "'" + root + "'";
  return "mesh --root " + root + " start";
}

std::string daemon_down_message(const Globals& g) {
  std::error_code ec;
  fs::path shown = fs::absolute(g.root, ec);
  if (ec) shown = g.root;
  // The contract's sentence first (scripts match it), then which root was looked at.
  std::string out =
      "the mesh daemon is not running (start it with: mesh start); looked in " + shown.string();
  if (!fs::exists(g.root, ec)) out += ", which does not exist";
  if (g.root_flag) out += "; for this root: " + start_hint(g);
  return out;
}

bool call_daemon(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
                 bool json_out, control::Reply* reply, int* exit_code,
                 const std::function<void(const std::string&)>& on_chunk,
                 std::chrono::milliseconds timeout) {
  control::Call call{verb, args, json_out};
  auto r = control::call(app::socket_path(g.root), call, timeout, on_chunk);
  if (!r) {
    if (r.error().code == Errc::not_found) {
      *exit_code = error(daemon_down_message(g));
    } else {
      *exit_code = error("cannot reach the mesh daemon: " + r.error().message);
    }
    return false;
  }
  *reply = std::move(*r);
  return true;
}

bool parse_reply(const control::Reply& reply, json::value* out) {
  boost::system::error_code ec;
  *out = json::parse(reply.output, ec);
  if (ec) {
    error("the daemon sent a malformed answer: " + ec.message());
    return false;
  }
  return true;
}

std::string str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const auto* p = v.as_object().if_contains(key);
  if (!p) return {};
  if (p->is_string()) return std::string(p->as_string());
  if (p->is_bool()) return p->as_bool() ? "yes" : "no";
  if (p->is_null()) return {};
  return json::serialize(*p);
}

std::int64_t num(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  const auto* p = v.as_object().if_contains(key);
  if (!p || !p->is_number()) return 0;
  boost::system::error_code ec;
  auto n = p->to_number<std::int64_t>(ec);
  return ec ? 0 : n;
}

std::string joined_text(const json::value& peer) {
  const auto* j = peer.is_object() ? peer.as_object().if_contains("joined") : nullptr;
  if (!j || !j->is_object()) return "";
  std::string text = ago(num(*j, "at_ms"));
  text += str(*j, "via") == "invite" ? " via our invite" : " via its invite";
  if (!str(*j, "code").empty()) text += " (code " + str(*j, "code") + ")";
  return text;
}

std::string reach_text(const json::value& peer) {
  std::string reach = str(peer, "reach");
  if (reach.empty()) return "?";  // a daemon older than the reach field
  auto since = num(peer, "reach_since_ms");
  return since > 0 ? reach + " since " + ago(since) : reach;
}

// Parses a command's own arguments; false (and usage printed) on a usage error.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const po::positional_options_description& pos, po::variables_map* vm, int* code) {
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), *vm);
    po::notify(*vm);
    return true;
  } catch (const po::error& e) {
    *code = error(e.what(), kUsage);
    return false;
  }
}

// Runs a daemon verb that answers JSON and hands the document to render().
int json_verb(const Globals& g, const std::string& verb, const std::vector<std::string>& args,
              const std::function<void(const json::value&)>& render) {
  control::Reply reply;
  int code = kOk;
  if (!call_daemon(g, verb, args, true, &reply, &code)) return code;
  if (reply.exit_code != 0) return error(reply.output, reply.exit_code);
  json::value doc;
  if (!parse_reply(reply, &doc)) return kFailed;
  if (g.json) {
    print_json(doc);
  } else {
    render(doc);
  }
  return kOk;
}

std::vector<Command> builtin_commands() {
  auto cmds = node_commands();
  for (auto& c : team_commands()) cmds.push_back(std::move(c));
  for (auto& c : repo_commands()) cmds.push_back(std::move(c));
  for (auto& c : update_commands()) cmds.push_back(std::move(c));
  for (auto& c : runner_commands()) cmds.push_back(std::move(c));
  return cmds;
}

Result<std::string> identity_of(const std::filesystem::path& root) {
  auto id = identity::Identity::load(root);
  if (!id) return id.error();
  return id->id();
}

}  // namespace mesh::cli
