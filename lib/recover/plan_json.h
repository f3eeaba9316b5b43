// A RecoveryPlan as a JSON document (schema "kmend.recover.plan/1",
// docs/cli/recover.md) and back. The file `recover plan -o` writes is what
// `recover apply` and `recover verify` read, so the reader is strict: a
// missing or mistyped field is refused naming its path in the document
// (`entries[3].fingerprint.replicas[0].last_logged.term: expected an
// integer`), an unknown schema is refused, unknown extra fields are ignored
// (additions are compatible).
#ifndef KMEND_LIB_RECOVER_PLAN_JSON_H_
#define KMEND_LIB_RECOVER_PLAN_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/recover/plan.h"
#include "nlohmann/json.hpp"

namespace kmend::recover {

nlohmann::json PlanToJson(const RecoveryPlan& plan);

// InvalidArgument naming the field when `doc` is not a plan of this schema.
absl::StatusOr<RecoveryPlan> PlanFromJson(const nlohmann::json& doc);

// Reads and parses the file; errors are prefixed with its path.
absl::StatusOr<RecoveryPlan> ReadPlanFile(const std::string& path);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_PLAN_JSON_H_
