// Bad bodies give a clear invalid_input error and never a crash: truncations, byte corruption,
// and, for every field each parser reads, the field missing, null and of the wrong type.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "service/events/events.hpp"
#include "service/events/fields.hpp"
#include "service/limits.hpp"
#include "test/service/events/test_support.hpp"

namespace ferry::events {
namespace {

namespace json = boost::json;

std::string real_capture() {
  return test::read_file(test::fixture("package.published.ghcr-multiarch-index.json"));
}

void expect_invalid(const ferry::result<event>& r, std::string_view message_part) {
  ASSERT_FALSE(r.ok()) << "expected an error containing \"" << message_part << "\"";
  EXPECT_EQ(r.error().kind, error_kind::invalid_input);
  EXPECT_NE(r.error().message.find(message_part), std::string::npos) << r.error().message;
}

TEST(events_robustness, every_truncation_of_the_real_capture_is_refused) {
  const std::string body = real_capture();
  const std::size_t end = body.find_last_of('}') + 1;  // what follows is the final newline
  ASSERT_GT(end, 1000u);
  for (std::size_t n = 0; n < end; ++n) {
    SCOPED_TRACE("prefix of " + std::to_string(n) + " bytes");
    expect_invalid(parse_event("package", std::string_view(body).substr(0, n)),
                   "body: malformed JSON");
    if (HasFatalFailure() || HasNonfatalFailure()) {
      return;
    }
  }
  EXPECT_TRUE(parse_event("package", std::string_view(body).substr(0, end)).ok());
}

// A corrupted byte may still leave valid JSON (a changed letter inside a string); whatever the
// outcome, it is a value: an event or an invalid_input error with a message.
TEST(events_robustness, single_byte_corruptions_never_crash) {
  const std::string body = real_capture();
  const char replacements[] = {'"',
                               '{',
                               '}',
                               '[',
                               ',',
                               ':',
                               '\\',
                               '\0',
                               'x',
                               '7',
                               static_cast<char>(0xff),
                               static_cast<char>(0xc3)};
  int errors = 0;
  for (std::size_t offset = 0; offset < body.size(); offset += 3) {
    for (const char c : replacements) {
      if (body[offset] == c) {
        continue;
      }
      std::string corrupt = body;
      corrupt[offset] = c;
      for (const auto name : {"package", "registry_package", "push", "issues"}) {
        const auto r = parse_event(name, corrupt);
        if (!r.ok()) {
          ++errors;
          ASSERT_EQ(r.error().kind, error_kind::invalid_input) << offset;
          ASSERT_FALSE(r.error().message.empty());
        }
      }
    }
  }
  EXPECT_GT(errors, 1000);
}

// A valid body for each typed event, with every field the table names present (the bases come
// from the fixtures and from @octokit/webhooks-examples).
json::value base_body(std::string_view event_name) {
  if (event_name == "package") {
    return json::parse(real_capture());
  }
  if (event_name == "registry_package") {
    return json::parse(
        test::read_file(test::fixture("registry_package.published.docker-example.json")));
  }
  static const json::value index = json::parse(
      test::read_file(test::node_module("@octokit/webhooks-examples/api.github.com/index.json")));
  for (const auto& entry : index.as_array()) {
    if (entry.at("name").as_string() != event_name) {
      continue;
    }
    // The example holding the most of the fields the table names.
    const json::value* best = nullptr;
    std::size_t best_present = 0;
    for (const auto& example : entry.at("examples").as_array()) {
      std::size_t present = 0;
      for (const auto& f : fields_read(event_name)) {
        std::string path(f.path);
        if (auto p = path.find("[]"); p != std::string::npos) {
          path = path.substr(0, p);  // the array itself; its items checked below
          const auto* a = test::at_path(example, path);
          present += a != nullptr && a->is_array() && !a->as_array().empty() ? 1 : 0;
          continue;
        }
        const auto* v = test::at_path(example, path);
        present += v != nullptr && !v->is_null() ? 1 : 0;
      }
      if (best == nullptr || present > best_present) {
        best = &example;
        best_present = present;
      }
    }
    if (best != nullptr) {
      return *best;
    }
  }
  ADD_FAILURE() << "no example of " << event_name;
  return {};
}

// The object holding the field at path (array segments "x[]" take element 0) and its key.
json::object* holder(json::value& root, std::string_view path, std::string& key,
                     std::string& concrete_path) {
  json::value* cur = &root;
  concrete_path.clear();
  while (true) {
    const auto dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    const bool items = seg.ends_with("[]");
    if (items) {
      seg.remove_suffix(2);
    }
    if (!concrete_path.empty()) {
      concrete_path += '.';
    }
    concrete_path += seg;
    auto* obj = cur->if_object();
    if (obj == nullptr) {
      return nullptr;
    }
    if (dot == std::string_view::npos) {
      key = std::string(seg);
      return obj;
    }
    cur = obj->if_contains(seg);
    if (cur == nullptr) {
      return nullptr;
    }
    if (items) {
      auto* arr = cur->if_array();
      if (arr == nullptr || arr->empty()) {
        return nullptr;
      }
      cur = &arr->at(0);
      concrete_path += "[0]";
    }
    path = path.substr(dot + 1);
  }
}

json::value wrong_value_for(json_type t) {
  switch (t) {
    case json_type::string:
      return 42;
    case json_type::integer:
      return "42";
    case json_type::boolean:
      return "true";
    case json_type::object:
      return json::array{};
    case json_type::array:
      return json::object{};
  }
  return nullptr;
}

TEST(events_robustness, each_field_missing_null_or_wrongly_typed) {
  int checked = 0;
  for (const auto name : typed_event_names()) {
    const json::value base = base_body(name);
    ASSERT_TRUE(parse_event(name, json::serialize(base)).ok()) << name;
    for (const auto& f : fields_read(name)) {
      json::value body = base;
      std::string key;
      std::string path;
      json::object* obj = holder(body, f.path, key, path);
      if (obj == nullptr || !obj->contains(key) || obj->at(key).is_null()) {
        // The base lacks this optional part (ping has no hook_id in some examples, ...): it
        // cannot be mutated here; the examples test covers its absence.
        continue;
      }
      SCOPED_TRACE(std::string(name) + " " + path);
      const bool required = f.presence == presence::required;

      (*obj)[key] = wrong_value_for(f.type);
      expect_invalid(parse_event(name, json::serialize(body)),
                     path + ": expected " + to_string(f.type) + ", got ");

      (*obj)[key] = nullptr;
      const auto null_result = parse_event(name, json::serialize(body));
      if (required) {
        expect_invalid(null_result, path + ": null");
      } else {
        EXPECT_TRUE(null_result.ok()) << null_result.error().message;
      }

      obj->erase(key);
      const auto missing_result = parse_event(name, json::serialize(body));
      if (required) {
        expect_invalid(missing_result, path + ": missing");
        EXPECT_EQ(missing_result.error().message, path + ": missing");
      } else {
        EXPECT_TRUE(missing_result.ok()) << missing_result.error().message;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 80);
}

TEST(events_robustness, named_cases) {
  const std::string body = real_capture();
  json::value v = json::parse(body);
  v.at("package").at("package_version").as_object().erase("name");
  const auto r = parse_event("package", json::serialize(v));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "package.package_version.name: missing");

  expect_invalid(parse_event("package", ""), "body: malformed JSON");
  expect_invalid(parse_event("ping", "[]"), "body: expected object, got array");
  expect_invalid(parse_event("push", "\"x\""), "body: expected object, got string");
  expect_invalid(parse_event("issues", "{\"a\":1} {\"b\":2}"), "body: malformed JSON");
  expect_invalid(parse_event("issues", "{\"a\":\"\xff\"}"), "body: malformed JSON");  // UTF-8
  expect_invalid(parse_event("ping", std::string(100000, '[')), "body: malformed JSON");

  // Numbers that are not int64 are not the integer the schema describes.
  json::value big = json::parse(body);
  big.as_object()["installation"] = json::object{{"id", 18446744073709551615ull}};
  expect_invalid(parse_event("package", json::serialize(big)),
                 "installation.id: expected integer, got integer out of int64 range");
  big.as_object()["installation"] = json::object{{"id", 1.5}};
  expect_invalid(parse_event("package", json::serialize(big)),
                 "installation.id: expected integer, got number");
  big.as_object()["installation"] = json::object{{"id", 42}};
  const auto with_installation = parse_event("package", json::serialize(big));
  ASSERT_TRUE(with_installation.ok());
  EXPECT_EQ(std::get<package_event>(*with_installation).installation_id, 42);

  // A label that is not an object.
  json::value pr = base_body("pull_request");
  pr.at("pull_request").at("labels").as_array().emplace_back("bug");
  const std::size_t last = pr.at("pull_request").at("labels").as_array().size() - 1;
  expect_invalid(parse_event("pull_request", json::serialize(pr)),
                 "pull_request.labels[" + std::to_string(last) + "]: expected object, got string");
}

// Bodies above k_event_parser_retained_max go through a parser of their own; same result.
TEST(events_robustness, large_body_parses_the_same) {
  json::value v = json::parse(real_capture());
  v.as_object()["padding"] = std::string(limits::k_event_parser_retained_max + 10, 'a');
  const std::string big = json::serialize(v);
  ASSERT_GT(big.size(), limits::k_event_parser_retained_max);
  const auto r = parse_event("package", big);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<package_event>(*r).tag, "0e2a89b");
  // And the thread's own parser still works after it.
  EXPECT_TRUE(parse_event("package", real_capture()).ok());
}

// The event outlives the buffer it was parsed from.
TEST(events_robustness, event_owns_its_strings) {
  std::string body = real_capture();
  auto r = parse_event("package", body);
  std::fill(body.begin(), body.end(), 'z');
  body.clear();
  body.shrink_to_fit();
  (void)parse_event("ping", R"({"zen":"overwrite the parser's buffers","hook_id":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<package_event>(*r).owner, "theryangeary");
  EXPECT_EQ(std::get<package_event>(*r).tag, "0e2a89b");
}

}  // namespace
}  // namespace ferry::events
