#pragma once
// Checks a table of fields a parser reads (fields.hpp) against GitHub's webhook schema
// (@octokit/openapi-webhooks, an OpenAPI 3.1 document): $ref into components, anyOf / oneOf
// (alternatives), allOf (conjunction), `type: [T, "null"]` and `nullable: true`.
//
// A field ferry treats as required must be required in every alternative of its parent, never
// null, and of the same type; a field it reads as optional must be in the schema (unless its
// parent is a free-form object) with the same type when not null.

#include <boost/json.hpp>

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "service/events/fields.hpp"

namespace ferry::events::test {

enum class check_mode {
  strict,         // every field read must be described by the schema
  required_only,  // other actions of the same event: what is required must be required there
};

class schema_checker {
 public:
  explicit schema_checker(const boost::json::value& spec) : spec_(spec) {}

  // Problems found, one line each; empty when the table agrees with the schema.
  std::vector<std::string> check(std::string_view webhook_key,
                                 std::span<const field_descriptor> fields, check_mode mode) const {
    std::vector<std::string> problems;
    const auto* hook = find(spec_, "/webhooks/" + std::string(webhook_key) +
                                       "/post/requestBody/content/application~1json/schema");
    if (hook == nullptr) {
      problems.push_back(std::string(webhook_key) + ": no such webhook in the schema");
      return problems;
    }
    for (const auto& f : fields) {
      check_field(*hook, f, mode, std::string(webhook_key) + " " + std::string(f.path) + ": ",
                  problems);
    }
    return problems;
  }

 private:
  // One alternative: the parts of an allOf that must all hold (usually one object).
  struct node {
    std::vector<const boost::json::object*> parts;
    bool null_only = false;
  };

  static const boost::json::value* find(const boost::json::value& root, const std::string& ptr) {
    boost::system::error_code ec;
    const auto* v = root.find_pointer(ptr, ec);
    return ec ? nullptr : v;
  }

  const boost::json::object* resolve(const boost::json::value& v) const {
    const boost::json::value* cur = &v;
    for (int hops = 0; hops < 32; ++hops) {
      const auto* o = cur->if_object();
      if (o == nullptr) {
        return nullptr;
      }
      const auto* ref = o->if_contains("$ref");
      if (ref == nullptr || !ref->is_string()) {
        return o;
      }
      std::string target(ref->get_string());
      if (!target.starts_with("#")) {
        return nullptr;
      }
      cur = find(spec_, target.substr(1));
      if (cur == nullptr) {
        return nullptr;
      }
    }
    return nullptr;
  }

  static std::set<std::string> own_types(const boost::json::object& o) {
    std::set<std::string> t;
    if (const auto* type = o.if_contains("type")) {
      if (type->is_string()) {
        t.emplace(type->get_string());
      } else if (type->is_array()) {
        for (const auto& x : type->get_array()) {
          if (x.is_string()) {
            t.emplace(x.get_string());
          }
        }
      }
    }
    if (const auto* n = o.if_contains("nullable"); n != nullptr && n->is_bool() && n->get_bool()) {
      t.emplace("null");
    }
    return t;
  }

  std::vector<node> expand(const boost::json::value& v) const {
    std::vector<node> out;
    const auto* o = resolve(v);
    if (o == nullptr) {
      return out;
    }
    for (const char* choice : {"anyOf", "oneOf"}) {
      if (const auto* alts = o->if_contains(choice); alts != nullptr && alts->is_array()) {
        for (const auto& a : alts->get_array()) {
          auto more = expand(a);
          out.insert(out.end(), more.begin(), more.end());
        }
        if (own_types(*o).contains("null")) {
          out.push_back(node{{}, true});
        }
        return out;
      }
    }
    node self{{o}, false};
    if (const auto* all = o->if_contains("allOf"); all != nullptr && all->is_array()) {
      std::vector<node> acc{self};
      for (const auto& member : all->get_array()) {
        std::vector<node> next;
        for (const auto& left : acc) {
          for (const auto& right : expand(member)) {
            node n = left;
            n.parts.insert(n.parts.end(), right.parts.begin(), right.parts.end());
            n.null_only = n.null_only || right.null_only;
            next.push_back(std::move(n));
          }
        }
        acc = std::move(next);
      }
      return acc;
    }
    const auto t = own_types(*o);
    if (t.size() == 1 && t.contains("null")) {
      self.null_only = true;
    }
    out.push_back(self);
    return out;
  }

  static std::set<std::string> types_of(const node& n) {
    if (n.null_only) {
      return {"null"};
    }
    std::set<std::string> t;
    bool has_properties = false;
    for (const auto* p : n.parts) {
      auto own = own_types(*p);
      t.insert(own.begin(), own.end());
      has_properties = has_properties || p->contains("properties");
    }
    if (t.empty() || (t.size() == 1 && t.contains("null"))) {
      t.insert(has_properties ? "object" : "any");
    }
    return t;
  }

  static const boost::json::value* property(const node& n, std::string_view key) {
    for (const auto* p : n.parts) {
      if (const auto* props = p->if_contains("properties"); props && props->is_object()) {
        if (const auto* v = props->get_object().if_contains(key)) {
          return v;
        }
      }
    }
    return nullptr;
  }

  static bool declares_properties(const node& n) {
    for (const auto* p : n.parts) {
      if (p->contains("properties")) {
        return true;
      }
    }
    return false;
  }

  static bool is_required(const node& n, std::string_view key) {
    for (const auto* p : n.parts) {
      if (const auto* req = p->if_contains("required"); req && req->is_array()) {
        for (const auto& r : req->get_array()) {
          if (r.is_string() && r.get_string() == key) {
            return true;
          }
        }
      }
    }
    return false;
  }

  void check_field(const boost::json::value& body, const field_descriptor& f, check_mode mode,
                   const std::string& where, std::vector<std::string>& problems) const {
    std::vector<std::string_view> segments;
    for (std::string_view rest = f.path; !rest.empty();) {
      const auto dot = rest.find('.');
      segments.push_back(rest.substr(0, dot));
      rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    std::vector<node> parents = expand(body);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      std::string_view key = segments[i];
      const bool items = key.ends_with("[]");
      if (items) {
        key.remove_suffix(2);
      }
      // The objects this key can live in (null alternatives of a nullable parent hold nothing).
      std::vector<node> objects;
      for (const auto& p : parents) {
        if (!p.null_only && types_of(p).contains("object")) {
          objects.push_back(p);
        }
      }
      const bool last = i + 1 == segments.size();
      std::vector<node> values;
      bool required_everywhere = !objects.empty();
      bool free_form = false;
      for (const auto& p : objects) {
        const auto* v = property(p, key);
        if (v == nullptr) {
          required_everywhere = false;
          free_form = free_form || !declares_properties(p);
          continue;
        }
        required_everywhere = required_everywhere && is_required(p, key);
        auto more = expand(*v);
        values.insert(values.end(), more.begin(), more.end());
      }
      if (values.empty()) {
        if (!last) {
          return;  // the parent's own entry reports it
        }
        if (free_form && f.presence == presence::optional) {
          return;  // under a free-form object (e.g. container_metadata.labels): undocumented
        }
        if (mode == check_mode::strict || f.presence == presence::required) {
          problems.push_back(where + "not in the schema (at \"" + std::string(key) + "\")" +
                             (free_form ? ", its parent is free-form" : ""));
        }
        return;
      }
      if (last) {
        std::set<std::string> types;
        bool nullable = false;
        for (const auto& v : values) {
          for (const auto& t : types_of(v)) {
            if (t == "null") {
              nullable = true;
            } else {
              types.insert(t);
            }
          }
        }
        const std::string want = to_string(f.type);
        if (types != std::set<std::string>{want}) {
          std::string got;
          for (const auto& t : types) {
            got += (got.empty() ? "" : "|") + t;
          }
          problems.push_back(where + "read as " + want + ", schema says " + got);
        }
        if (f.presence == presence::required && !required_everywhere) {
          problems.push_back(where + "read as required, schema says optional");
        }
        if (f.presence == presence::required && nullable) {
          problems.push_back(where + "read as required, schema says nullable");
        }
        return;
      }
      parents.clear();
      for (const auto& v : values) {
        if (!items) {
          parents.push_back(v);
          continue;
        }
        for (const auto* part : v.parts) {
          if (const auto* it = part->if_contains("items")) {
            auto more = expand(*it);
            parents.insert(parents.end(), more.begin(), more.end());
          }
        }
      }
    }
  }

  const boost::json::value& spec_;
};

}  // namespace ferry::events::test
