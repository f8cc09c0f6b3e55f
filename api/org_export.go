package api

import (
	"archive/zip"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
)

// POST /v1/orgs/{org_id}/export (issue 18, GDPR article 20): the OWNER takes every row
// the organization owns, as one zip streamed while the database produces the rows
// (api.export_organization, under the same policies as any read). The archive:
//
//	<schema>.<table>.jsonl   one JSON object per line per row, the table's columns
//	                         (secret-named ones left out), in id order
//	manifest.json            {"format": "rowguard-org-export/1", "org_id", "exported_at",
//	                          "tables": [{"table", "file", "rows"}]}, written last
//
// Only tables with at least one row of the organization get a file.
func (s *Server) exportOrganization(w http.ResponseWriter, r *http.Request) {
	orgID := mux.Vars(r)["org_id"]
	type tableEntry struct {
		Table string `json:"table"`
		File  string `json:"file"`
		Rows  int    `json:"rows"`
	}
	var (
		zw      *zip.Writer
		f       io.Writer
		tables  []tableEntry
		name    string
		rowJSON []byte
	)
	// One entry on the audit trail, committed before the first row is read.
	if err := s.auditExport(r, "organization", ""); err != nil {
		s.fail(w, r, err)
		return
	}
	exportedAt := time.Now().UTC()
	s.streamQuery(w, r,
		func() {
			h := w.Header()
			h.Set("Content-Type", "application/zip")
			h.Set("Content-Disposition", `attachment; filename="org-`+orgID+"-"+exportedAt.Format("20060102")+`.zip"`)
			w.WriteHeader(http.StatusOK)
			zw = zip.NewWriter(w)
		},
		func(rows pgx.Rows) error {
			if err := rows.Scan(&name, &rowJSON); err != nil {
				return err
			}
			if len(tables) == 0 || tables[len(tables)-1].Table != name {
				var err error
				file := name + ".jsonl"
				if f, err = zw.CreateHeader(&zip.FileHeader{Name: file, Method: zip.Deflate, Modified: exportedAt}); err != nil {
					return err
				}
				tables = append(tables, tableEntry{Table: name, File: file})
			}
			tables[len(tables)-1].Rows++
			if _, err := f.Write(rowJSON); err != nil {
				return err
			}
			_, err := f.Write([]byte{'\n'})
			return err
		},
		func() error {
			manifest, _ := json.Marshal(map[string]any{"format": OrgExportFormat, "org_id": orgID,
				"exported_at": exportedAt.Format(time.RFC3339), "tables": tables})
			mf, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: exportedAt})
			if err == nil {
				_, err = mf.Write(manifest)
			}
			if err == nil {
				err = zw.Close()
			}
			return err
		},
		`select t.table_name, t.row_json from api.export_organization() t`)
}

// OrgExportFormat names the layout of the organization export's archive.
const OrgExportFormat = "rowguard-org-export/1"
