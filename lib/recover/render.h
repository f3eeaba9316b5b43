// `recover`'s output for people (plain text) and scripts (JSON, schemas in
// docs/cli/recover.md). The plan's own JSON is plan_json.h.
#ifndef KMEND_LIB_RECOVER_RENDER_H_
#define KMEND_LIB_RECOVER_RENDER_H_

#include <string>

#include "lib/recover/apply.h"
#include "lib/recover/plan.h"
#include "lib/recover/verify.h"
#include "nlohmann/json.hpp"

namespace kmend::recover {

inline constexpr char kApplySchema[] = "kmend.recover.apply/1";
inline constexpr char kVerifySchema[] = "kmend.recover.verify/1";

std::string RenderPlanPlain(const RecoveryPlan& plan);

std::string RenderApplyPlain(const ApplyReport& report, bool dry_run);
nlohmann::json RenderApplyJson(const ApplyReport& report, bool dry_run);

std::string RenderVerifyPlain(const VerifyResult& result);
nlohmann::json RenderVerifyJson(const VerifyResult& result, int64_t waited_ms);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_RENDER_H_
