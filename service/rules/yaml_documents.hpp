#pragma once
// Reading a multi-document YAML text without yaml-cpp 0.7's LoadAll hang: on some malformed
// inputs its parser keeps reporting empty documents without consuming input, so LoadAll loops
// forever, allocating (jbeder/yaml-cpp#1319, fixed after 0.8; found by rules_fuzz and by
// migrate_flux_fuzz). Shared by every parser of ferry that reads YAML it did not write.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace ferry::yaml {

// A yaml-cpp event handler that hears only where each document starts; every other event is
// ignored. For readers that must know how many documents a text holds before building nodes.
class document_start_listener : public YAML::EventHandler {
 public:
  virtual void on_document_start(const YAML::Mark& mark) = 0;

  void OnDocumentStart(const YAML::Mark& mark) final { on_document_start(mark); }
  void OnDocumentEnd() final {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) final {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) final {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) final {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) final {}
  void OnSequenceEnd() final {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) final {}
  void OnMapEnd() final {}
};

struct documents {
  std::vector<YAML::Node> nodes;  // empty when failed
  bool failed = false;
  bool too_many = false;  // more than max_documents (document_starts alone does not fail on it)
  YAML::Mark mark;        // where reading stopped (when failed)
  std::string message;    // "YAML syntax error: ..." or the reason reading stopped
};

// Where each document starts, found with the event parser and at most max_documents + 1 calls.
// Sets failed when the parser stops advancing or on a syntax error, and too_many when there are
// more than max_documents (starts then holds max_documents + 1 marks).
documents document_starts(const std::string& text, std::size_t max_documents,
                          std::vector<YAML::Mark>& starts);

// Every document of text, or failed with where and why (too many documents is a failure here).
// Never loops: the document starts are found first and checked to advance before any node is built.
documents load_all(std::string_view text, std::size_t max_documents);

}  // namespace ferry::yaml
