#include "lib/tablet/rowset.h"

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"

namespace kmend::tablet {

absl::StatusOr<RowSetDataPB> WriteRowSet(const Schema& schema, const KeyedRows& rows,
                                         uint64_t rowset_id, blocks::LogBlockManager* bm,
                                         const ColumnBlockOptions& options) {
  std::vector<std::string> encoded;
  encoded.reserve(schema.num_columns());
  std::vector<Value> column;
  column.reserve(rows.size());
  for (size_t c = 0; c < schema.num_columns(); ++c) {
    column.clear();
    for (const auto& kr : rows) column.push_back(kr.second[c]);
    ASSIGN_OR_RETURN(std::string block, EncodeColumnBlock(schema.column(c).type, column, options));
    encoded.push_back(std::move(block));
  }
  std::vector<absl::string_view> views(encoded.begin(), encoded.end());
  ASSIGN_OR_RETURN(std::vector<blocks::BlockId> ids, bm->CreateBlocks(views));
  RowSetDataPB rs;
  rs.set_id(rowset_id);
  rs.set_last_durable_dms_id(0);
  for (size_t c = 0; c < ids.size(); ++c) {
    ColumnDataPB* col = rs.add_columns();
    col->mutable_block()->set_id(ids[c]);
    col->set_column_id(static_cast<int32_t>(schema.column(c).id));
  }
  rs.set_live_row_count(static_cast<int64_t>(rows.size()));
  if (!rows.empty()) {
    rs.set_min_encoded_key(rows.front().first);
    rs.set_max_encoded_key(rows.back().first);
  }
  return rs;
}

absl::StatusOr<KeyedRows> ReadRowSet(const Schema& schema, const RowSetDataPB& rowset,
                                     const blocks::LogBlockManager& bm) {
  const std::string where = absl::StrCat("rowset ", rowset.id());
  auto bad = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(where, ": ", what));
  };
  if (static_cast<size_t>(rowset.columns_size()) != schema.num_columns()) {
    return bad(absl::StrCat(rowset.columns_size(), " column blocks for ", schema.num_columns(),
                            " columns"));
  }
  std::vector<std::vector<Value>> columns;
  size_t nrows = 0;
  for (size_t c = 0; c < schema.num_columns(); ++c) {
    const uint64_t id = rowset.columns(static_cast<int>(c)).block().id();
    auto bytes = bm.ReadBlock(id);
    if (!bytes.ok()) {
      if (bytes.status().code() == absl::StatusCode::kNotFound) {
        return bad(absl::StrCat("column \"", schema.column(c).name, "\": block ",
                                BlockIdToString(id), " is missing from the block manager"));
      }
      return Annotate(bytes.status(), where);
    }
    auto decoded = DecodeColumnBlock(id, *bytes);
    if (!decoded.ok()) return Annotate(decoded.status(), where);
    if (decoded->header.type != schema.column(c).type) {
      return bad(absl::StrCat("block ", BlockIdToString(id), ": type ",
                              DataTypeName(decoded->header.type), ", but column \"",
                              schema.column(c).name, "\" is ",
                              DataTypeName(schema.column(c).type)));
    }
    if (c == 0) {
      nrows = decoded->values.size();
    } else if (decoded->values.size() != nrows) {
      return bad(absl::StrCat("block ", BlockIdToString(id), " holds ", decoded->values.size(),
                              " rows, the first column ", nrows));
    }
    columns.push_back(std::move(decoded->values));
  }
  if (rowset.has_live_row_count() && rowset.live_row_count() != static_cast<int64_t>(nrows)) {
    return bad(absl::StrCat("live_row_count ", rowset.live_row_count(), " but the blocks hold ",
                            nrows, " rows"));
  }
  KeyedRows out;
  out.reserve(nrows);
  for (size_t r = 0; r < nrows; ++r) {
    Row row;
    row.reserve(columns.size());
    for (auto& col : columns) row.push_back(std::move(col[r]));
    auto key = EncodeKey(schema, row);
    if (!key.ok()) return bad(absl::StrCat("row ", r, ": ", key.status().message()));
    if (!out.empty() && !(out.back().first < *key)) {
      return bad(absl::StrCat("row ", r, ": key not greater than the previous row's (rows must be "
                              "in strictly increasing key order)"));
    }
    out.emplace_back(*std::move(key), std::move(row));
  }
  if (!out.empty()) {
    if (rowset.has_min_encoded_key() && rowset.min_encoded_key() != out.front().first) {
      return bad("min_encoded_key differs from the first row's key");
    }
    if (rowset.has_max_encoded_key() && rowset.max_encoded_key() != out.back().first) {
      return bad("max_encoded_key differs from the last row's key");
    }
  }
  return out;
}

}  // namespace kmend::tablet
