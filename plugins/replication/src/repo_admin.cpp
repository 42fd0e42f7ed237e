// The repo commands (remove-repo, restore-repo, drop) and `mesh repos --json`.
#include <boost/json.hpp>

#include "names.hpp"
#include "parked.hpp"
#include "refs_event.hpp"
#include "replicator.hpp"

namespace mesh::repl {
namespace json = boost::json;

namespace {

std::string branch_of(const std::string& ref) {
  if (ref.starts_with("refs/heads/")) return ref.substr(11);
  if (ref.starts_with("refs/tags/")) return ref.substr(10);
  return ref;
}

}  // namespace

bool Replicator::remove_repo(const std::string& repo, std::string* err) {
  if (!known(repo)) {
    *err = "no repo named " + repo + " on this node";
    return false;
  }
  RefsEvent ev{RefsEvent::Op::remove, repo, 0, {}, false};
  {
    std::lock_guard lock(reg_mu_);
    Key key = next_key_locked();
    ev.clock = key.clock;
    regs_[repo].apply_removal(true, key, options_.now_ms());
    if (!save_locked(repo, err)) return false;
  }
  publish_payloads(repo, encode_refs_event(ev));
  Job job = make_job(repo);
  process(job);  // trash it now, so that the command's answer is the new state
  return true;
}

bool Replicator::restore_repo(const std::string& repo, std::string* err) {
  bool removed = false;
  {
    std::lock_guard lock(reg_mu_);
    auto it = regs_.find(repo);
    removed = it != regs_.end() && it->second.is_removed();
  }
  if (!removed) {
    auto list = removed_repos();
    std::string names;
    for (const auto& r : list) names += (names.empty() ? "" : ", ") + r;
    *err = "no removed repo named " + repo +
           (names.empty() ? " (none was removed)" : " (removed: " + names + ")");
    return false;
  }
  RefsEvent ev{RefsEvent::Op::restore, repo, 0, {}, false};
  {
    std::lock_guard lock(reg_mu_);
    Key key = next_key_locked();
    ev.clock = key.clock;
    regs_[repo].apply_removal(false, key, options_.now_ms());
    if (!save_locked(repo, err)) return false;
  }
  publish_payloads(repo, encode_refs_event(ev));
  Job job = make_job(repo);
  process(job);  // back from the trash (or fetched from the members) before the answer
  if (job.attempts > 0) enqueue(std::move(job));
  return true;
}

bool Replicator::drop(const std::string& repo, const std::string& which, std::string* what,
                      std::string* err) {
  std::optional<RepoRegistry> reg = registry_of(repo);
  if (!reg || reg->is_removed() || !mirrors_.exists(repo)) {
    *err = "no repo named " + repo + " on this node";
    return false;
  }
  auto parsed = parse_parked_name(which);
  struct Match {
    std::string ref, value, winner;
    bool deletion;
  };
  std::vector<Match> found;
  for (const auto& [ref, plan] : plans(repo, *reg)) {
    if (!plan.winner) continue;
    auto consider = [&](const Contender& c, bool deletion) {
      const std::string tip(deleted_tip(c.value));
      bool hit = parsed ? (parsed->ref == ref && parsed->tip == tip && parsed->deletion == deletion)
                        : (which.size() >= 7 && which.size() <= 40 && tip.starts_with(which));
      if (hit) found.push_back({ref, c.value, plan.winner->value, deletion});
    };
    for (const auto& c : plan.parked) consider(c, false);
    for (const auto& c : plan.lost_deletions) consider(c, true);
  }
  if (found.empty()) {
    *err = "nothing parked in " + repo + " matches " + which + " (mesh repos lists what is)";
    return false;
  }
  if (found.size() > 1) {
    *err = which + " matches " + std::to_string(found.size()) +
           " parked tips; give the whole parked name (mesh repos lists them)";
    return false;
  }
  const Match& m = found.front();
  // "The team keeps the winner": old = new = the winner, and the dropped value superseded.
  RegistryUpdate u{m.ref, m.winner, m.winner, {m.value}};
  RefsEvent ev{RefsEvent::Op::updates, repo, 0, {u}, false};
  {
    std::lock_guard lock(reg_mu_);
    Key key = next_key_locked();
    ev.clock = key.clock;
    regs_[repo].apply(u, key, options_.now_ms());
    if (!save_locked(repo, err)) return false;
  }
  publish_payloads(repo, encode_refs_event(ev));
  enqueue(make_job(repo));
  *what = m.deletion ? "the overtaken deletion of " + branch_of(m.ref) + " (the branch stays)"
                     : parked_name(m.ref, m.value) + " (" + m.value.substr(0, 12) + ")";
  return true;
}

std::string Replicator::repos_json(const std::string& url_base, const std::string& mesh) {
  std::map<std::string, std::string> names;
  for (const auto& p : services_.peers()) names[p.id] = p.name;
  names[options_.self_id] = options_.self_name;
  auto name = [&](const std::string& id) {
    auto it = names.find(id);
    return it != names.end() && !it->second.empty() ? it->second : key_of(id).substr(0, 12);
  };
  json::array out;
  for (const auto& r : mirrors_.list()) {
    std::optional<RepoRegistry> reg = registry_of(r);
    if (reg && reg->is_removed()) continue;
    const std::string url = url_base + "/" + r + ".git";
    json::object refs;
    for (const auto& [ref, oid] : mirrors_.refs(r)) refs[ref] = oid;
    json::array divs;
    if (reg) {
      for (const auto& [ref, plan] : plans(r, *reg)) {
        if (!plan.ready() || !plan.winner) continue;
        const std::string b = branch_of(ref);
        const bool branch = ref.starts_with("refs/heads/");
        for (const auto& c : plan.parked) {
          const std::string parked = parked_name(ref, c.value);
          json::object d{{"ref", ref},
                         {"kind", "push"},
                         {"node", name(c.key.origin)},
                         {"node_id", c.key.origin},
                         {"oid", c.value},
                         {"parked_as", parked},
                         {"winner", plan.winner->value},
                         {"winner_node", name(plan.winner->key.origin)}};
          d["resolve"] = branch ? "git fetch " + url + " " + c.value +
                                      " && git merge FETCH_HEAD && git push " + url + " HEAD:" + b
                                : "git push --force " + url + " " + c.value + ":" + ref;
          d["discard"] = mesh + " drop " + r + " " + parked;
          divs.push_back(std::move(d));
        }
        for (const auto& c : plan.lost_deletions) {
          const std::string tip(deleted_tip(c.value));
          const std::string record = deleted_name(ref, tip);
          divs.push_back(json::object{{"ref", ref},
                                      {"kind", "deletion"},
                                      {"node", name(c.key.origin)},
                                      {"node_id", c.key.origin},
                                      {"oid", tip},
                                      {"parked_as", record},
                                      {"winner", plan.winner->value},
                                      {"winner_node", name(plan.winner->key.origin)},
                                      {"resolve", "git push " + url + " --delete " + b},
                                      {"discard", mesh + " drop " + r + " " + record}});
        }
      }
    }
    out.push_back(
        json::object{{"name", r}, {"refs", std::move(refs)}, {"divergences", std::move(divs)}});
  }
  return json::serialize(out);
}

}  // namespace mesh::repl
