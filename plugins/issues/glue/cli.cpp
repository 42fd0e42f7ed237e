#include "cli.hpp"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <iterator>

#include "cli_text.hpp"
#include "issue_json.hpp"
#include "limits.hpp"
#include "status.hpp"

namespace mesh::issues {
namespace json = boost::json;

const char* const kIssuesUsage =
    "usage: mesh issues list REPO [--label L] [--state open|closed|all]\n"
    "       mesh issues show REPO ID\n"
    "       mesh issues new REPO --title T [--body T | --body-file F|-] [--label L]...\n"
    "       mesh issues edit REPO ID [--title T] [--body T | --body-file F|-]\n"
    "       mesh issues comment REPO ID (--body T | --body-file F|-) [--edit COMMENT]\n"
    "       mesh issues close|reopen REPO ID\n"
    "       mesh issues label REPO ID (+L | -L | --add L | --remove L)...\n"
    "       mesh issues assign REPO ID (+WHO | -WHO | --add WHO | --remove WHO)...\n"
    "       mesh issues move REPO ID (--before ID | --after ID)\n"
    "       mesh issues status\n"
    "ID is #12, 12, #12-3fa9 or a prefix of the full id (quote #12 in a shell). --json prints\n"
    "one JSON document. --body-file reads a file, or standard input for -.\n";

namespace {

struct Spec {
  const char* name;
  int positionals;  // after the subcommand: REPO [ID]
};
constexpr Spec kSpecs[] = {{"list", 1},    {"show", 2},  {"new", 1},    {"edit", 2},
                           {"comment", 2}, {"close", 2}, {"reopen", 2}, {"label", 2},
                           {"assign", 2},  {"move", 2},  {"status", 0}, {"help", 0}};

CliParse usage(std::string why) {
  return CliParse{std::nullopt, std::move(why) + "\n" + kIssuesUsage};
}

bool takes(const std::string& sub, const std::string& opt) {
  if (opt == "--label") return sub == "list" || sub == "new";
  if (opt == "--state") return sub == "list";
  if (opt == "--title") return sub == "new" || sub == "edit";
  if (opt == "--body" || opt == "--body-file") {
    return sub == "new" || sub == "edit" || sub == "comment";
  }
  if (opt == "--edit") return sub == "comment";
  if (opt == "--add" || opt == "--remove") return sub == "label" || sub == "assign";
  if (opt == "--before" || opt == "--after") return sub == "move";
  return false;
}

}  // namespace

CliParse parse_cli(const std::vector<std::string>& args) {
  if (args.empty()) return usage("mesh issues needs a subcommand");
  CliCommand c;
  c.sub = args[0];
  const Spec* spec = nullptr;
  for (const auto& s : kSpecs) {
    if (c.sub == s.name) spec = &s;
  }
  if (!spec) return usage("unknown subcommand '" + c.sub + "'");
  std::vector<std::string> pos;
  bool options_done = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    bool is_change = c.sub == "label" || c.sub == "assign";
    if (!options_done && is_change && pos.size() == 2 && a.size() > 1 &&
        (a[0] == '+' || (a[0] == '-' && a[1] != '-'))) {
      (a[0] == '+' ? c.add : c.remove).push_back(a.substr(1));
      continue;
    }
    if (options_done || a.size() < 2 || a[0] != '-') {
      pos.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.starts_with("--")) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (!takes(c.sub, name)) return usage("mesh issues " + c.sub + ": unknown option " + name);
    if (!has_value) {
      if (i + 1 >= args.size()) return usage(name + " needs a value");
      value = args[++i];
    }
    auto once = [&](std::optional<std::string>& slot) {
      if (slot) return false;
      slot = value;
      return true;
    };
    if (name == "--label" && c.sub == "list") {
      if (!once(c.label_filter)) return usage("--label is given twice");
    } else if (name == "--label") {
      c.labels.push_back(value);
    } else if (name == "--state") {
      auto s = parse_state_filter(value);
      if (!s) return usage("--state is open, closed or all, not '" + value + "'");
      c.state = *s;
    } else if (name == "--title") {
      if (!once(c.title)) return usage("--title is given twice");
    } else if (name == "--body" || name == "--body-file") {
      if (c.body || c.body_file) return usage("give the body once: --body or --body-file");
      (name == "--body" ? c.body : c.body_file) = value;
    } else if (name == "--edit") {
      c.edit_comment = value;
    } else if (name == "--add") {
      c.add.push_back(value);
    } else if (name == "--remove") {
      c.remove.push_back(value);
    } else if (name == "--before" || name == "--after") {
      if (c.place) return usage("give one of --before and --after");
      c.place = name == "--before" ? Place::before : Place::after;
      c.target = value;
    }
  }
  if (static_cast<int>(pos.size()) != spec->positionals) {
    std::string what = spec->positionals == 0   ? "no arguments"
                       : spec->positionals == 1 ? "REPO"
                                                : "REPO and ID";
    return usage("mesh issues " + c.sub + " takes " + what);
  }
  if (!pos.empty()) c.repo = pos[0];
  if (pos.size() > 1) c.id = pos[1];
  if (c.sub == "new" && !c.title) return usage("mesh issues new needs --title");
  if (c.sub == "edit" && !c.title && !c.body && !c.body_file) {
    return usage("mesh issues edit needs --title, --body or --body-file");
  }
  if (c.sub == "comment" && !c.body && !c.body_file) {
    return usage("mesh issues comment needs --body or --body-file");
  }
  if ((c.sub == "label" || c.sub == "assign") && c.add.empty() && c.remove.empty()) {
    return usage("mesh issues " + c.sub + " needs at least one +X or -X");
  }
  if (c.sub == "move" && !c.place) return usage("mesh issues move needs --before ID or --after ID");
  return CliParse{std::move(c), {}};
}

std::optional<std::string> read_body_file(const std::string& path, std::string* error) {
  if (path == "-") {
    *error =
        "--body-file - (standard input) does not reach the daemon: use --body \"$(cat)\" or an "
        "absolute --body-file";
    return std::nullopt;
  }
  if (path.empty() || path[0] != '/') {
    *error =
        "--body-file needs an absolute path (the daemon reads it, and it does not run in "
        "your directory): --body-file \"$PWD/" +
        path + "\"";
    return std::nullopt;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = "--body-file " + path + ": not a readable file";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "--body-file " + path + ": cannot be read";
    return std::nullopt;
  }
  std::string text;
  text.resize(kMaxBody + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxBody) {
    *error = "--body-file " + path + " is larger than the body limit of " +
             std::to_string(kMaxBody) + " bytes (60 KiB)";
    return std::nullopt;
  }
  return text;
}

CliOutcome IssuesCli::run(const std::vector<std::string>& args, bool json_out) {
  CliParse p = parse_cli(args);
  if (!p.command) return CliOutcome{{2, p.usage_error}, 0, {}};
  const CliCommand& c = *p.command;
  if (c.sub == "help") return CliOutcome{{0, kIssuesUsage}, 0, {}};
  if (c.sub == "status") {
    return CliOutcome{{0, json_out ? status_json() : status_text()}, 0, {}};
  }
  if (auto bad = check_repo(c.repo)) return CliOutcome{{1, bad->message}, 0, {}};
  if (c.sub == "list" || c.sub == "show") return query(c, json_out);
  return change(c, json_out);
}

CliOutcome IssuesCli::query(const CliCommand& c, bool json_out) {
  NameOf names = [this](std::string_view id) { return s_.name_of(id); };
  if (!a_.known_repo(c.repo)) {
    return CliOutcome{{1, "no repo " + c.repo + " on this node (mesh repos lists them)"}, 0, {}};
  }
  if (c.sub == "list") {
    ListFilter f;
    f.state = c.state;
    if (c.label_filter) f.label = *c.label_filter;
    auto views = s_.read([&](const Board& b) { return list_issues(b, c.repo, f); });
    if (json_out) return CliOutcome{{0, list_json(views, names)}, 0, {}};
    if (views.empty()) {
      std::string what = c.state == StateFilter::all
                             ? ""
                             : std::string(c.state == StateFilter::open ? "open " : "closed ");
      std::string lbl = f.label.empty() ? "" : " labelled " + f.label;
      return CliOutcome{{0, "no " + what + "issues" + lbl + " in " + c.repo + "\n"}, 0, {}};
    }
    return CliOutcome{{0, list_text(views, names, now_ms_())}, 0, {}};
  }
  std::optional<IssueView> view;
  Problem problem;
  s_.read([&](const Board& b) {
    Resolved r = resolve(b, c.repo, c.id);
    if (r.issue) {
      view = view_of(*b.repo(c.repo), *r.issue, true);
    } else {
      problem = r.problem;
    }
    return 0;
  });
  if (!view) return CliOutcome{{1, problem.message}, 0, {}};
  if (json_out) return CliOutcome{{0, show_json(*view, names)}, 0, {}};
  return CliOutcome{{0, show_text(*view, names, now_ms_())}, 0, {}};
}

CliOutcome IssuesCli::after(const ActionResult& r, bool json_out,
                            std::function<CliReply(bool taken)> done) {
  if (!r.ok) return CliOutcome{{1, r.error}, 0, {}};
  if (r.last_seq == 0) return CliOutcome{done(true), 0, {}};
  CliOutcome out;
  out.wait_seq = r.last_seq;
  out.finish = [done = std::move(done), json_out](const Taken& t) {
    if (t.taken && t.outcome == Outcome::refused) {
      return CliReply{1, "the board refused the change: " + t.problem.message};
    }
    CliReply reply = done(t.taken);
    if (!t.taken && !json_out) {
      reply.output += "(published; not visible on this node yet)\n";
    }
    return reply;
  };
  return out;
}

CliOutcome IssuesCli::change(const CliCommand& c, bool json_out) {
  std::optional<std::string> body = c.body;
  if (c.body_file) {
    std::string error;
    body = read_body_file(*c.body_file, &error);
    if (!body) return CliOutcome{{2, error}, 0, {}};
  }
  auto ref_of = [this, repo = c.repo](const std::string& id) {
    return s_.read([&](const Board& b) -> std::string {
      const Issue* i = b.issue(id);
      const Repo* r = b.repo(repo);
      return i && r ? display_ref(*r, *i) : id.substr(0, 12);
    });
  };
  auto ok_json = [] { return std::string(R"({"ok":true})"); };
  auto said = [json_out, ok_json](std::string text) {
    return CliReply{0, json_out ? ok_json() : text + "\n"};
  };

  if (c.sub == "new") {
    ActionResult r = a_.create(c.repo, *c.title, body.value_or(""), c.labels);
    std::string repo = c.repo;
    return after(r, json_out, [this, r, json_out, repo, ref_of](bool taken) {
      std::string ref = taken ? ref_of(r.id) : "#" + std::to_string(r.num);
      if (json_out) {
        return CliReply{0,
                        json::serialize(json::object{{"id", r.id}, {"num", r.num}, {"ref", ref}})};
      }
      return CliReply{0, "created " + ref + " in " + repo + " (" + r.id + ")\n"};
    });
  }
  if (c.sub == "edit") {
    ActionResult r = a_.edit(c.repo, c.id, c.title, body);
    if (r.ok && r.last_seq == 0) {
      return CliOutcome{said("nothing to change: " + ref_of(r.id) + " already reads so"), 0, {}};
    }
    return after(r, json_out, [=](bool) { return said("updated " + ref_of(r.id)); });
  }
  if (c.sub == "comment") {
    ActionResult r = c.edit_comment.empty()
                         ? a_.comment(c.repo, c.id, body.value_or(""))
                         : a_.edit_comment(c.repo, c.id, c.edit_comment, body.value_or(""));
    std::string verb = c.edit_comment.empty() ? "commented on " : "edited the comment on ";
    return after(r, json_out, [=](bool) { return said(verb + ref_of(r.id)); });
  }
  if (c.sub == "close" || c.sub == "reopen") {
    State want = c.sub == "close" ? State::closed : State::open;
    ActionResult r = a_.set_state(c.repo, c.id, want);
    if (r.ok && r.last_seq == 0) {
      return CliOutcome{
          said(ref_of(r.id) + " is " + std::string(state_name(want)) + " already"), 0, {}};
    }
    std::string verb = c.sub == "close" ? "closed " : "reopened ";
    return after(r, json_out, [=](bool) { return said(verb + ref_of(r.id)); });
  }
  if (c.sub == "label" || c.sub == "assign") {
    bool labels = c.sub == "label";
    ActionResult r = labels ? a_.labels(c.repo, c.id, c.add, c.remove)
                            : a_.assignees(c.repo, c.id, c.add, c.remove);
    return after(r, json_out, [=, this](bool taken) {
      std::vector<std::string> now = s_.read([&](const Board& b) {
        const Issue* i = b.issue(r.id);
        if (!i) return std::vector<std::string>{};
        return labels ? i->labels.values() : i->assignees.values();
      });
      if (!taken) {  // not back yet: what it will be
        std::set<std::string> s(now.begin(), now.end());
        for (const auto& x : c.remove) s.erase(x);
        for (const auto& x : c.add) s.insert(x);
        now.assign(s.begin(), s.end());
      }
      json::array a;
      std::string text;
      for (const auto& x : now) {
        a.emplace_back(x);
        text += (text.empty() ? "" : ", ") + x;
      }
      if (json_out) {
        return CliReply{
            0, json::serialize(json::object{{"ok", true}, {labels ? "labels" : "assignees", a}})};
      }
      return CliReply{0, ref_of(r.id) + (labels ? " labels: " : " assignees: ") +
                             (text.empty() ? "-" : text) + "\n"};
    });
  }
  // move
  ActionResult r = a_.move(c.repo, c.id, *c.place, c.target);
  std::string where = (*c.place == Place::before ? " before " : " after ") + c.target;
  if (r.ok && r.last_seq == 0) {
    return CliOutcome{said(ref_of(r.id) + " is" + where + " already"), 0, {}};
  }
  return after(r, json_out, [=](bool) { return said("moved " + ref_of(r.id) + where); });
}

std::string IssuesCli::status_json() const {
  return issues::status_json(s_);
}
std::string IssuesCli::status_text() const {
  return issues::status_text(s_);
}

}  // namespace mesh::issues
