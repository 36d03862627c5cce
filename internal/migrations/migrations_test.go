package migrations

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	sql := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []Migration
		wantErr string
	}{
		{
			name: "in version order",
			files: fstest.MapFS{
				"m/0002_users.sql":   sql("CREATE TABLE users ();"),
				"m/0001_init.sql":    sql("SELECT 1;"),
				"m/0003_add_a_b.sql": sql(""),
			},
			want: []Migration{
				{Version: 1, Name: "init", SQL: "SELECT 1;"},
				{Version: 2, Name: "users", SQL: "CREATE TABLE users ();"},
				{Version: 3, Name: "add_a_b", SQL: ""},
			},
		},
		{name: "empty directory", files: fstest.MapFS{"m": &fstest.MapFile{Mode: fs.ModeDir | 0o755}}},
		{name: "missing directory", files: fstest.MapFS{}, wantErr: "read migrations"},
		{name: "no .sql suffix", files: fstest.MapFS{"m/0001_init.txt": sql("")}, wantErr: "not named NNNN_name.sql"},
		{name: "no name", files: fstest.MapFS{"m/0001.sql": sql("")}, wantErr: "not named NNNN_name.sql"},
		{name: "empty name", files: fstest.MapFS{"m/0001_.sql": sql("")}, wantErr: "not named NNNN_name.sql"},
		{name: "not a number", files: fstest.MapFS{"m/one_init.sql": sql("")}, wantErr: "not named NNNN_name.sql"},
		{name: "version zero", files: fstest.MapFS{"m/0000_init.sql": sql("")}, wantErr: "not named NNNN_name.sql"},
		{name: "negative version", files: fstest.MapFS{"m/-1_init.sql": sql("")}, wantErr: "not named NNNN_name.sql"},
		{
			name:    "gap",
			files:   fstest.MapFS{"m/0001_a.sql": sql(""), "m/0003_c.sql": sql("")},
			wantErr: "found 3 at position 2",
		},
		{
			name:    "not from 1",
			files:   fstest.MapFS{"m/0002_b.sql": sql("")},
			wantErr: "found 2 at position 1",
		},
		{
			name:    "duplicate",
			files:   fstest.MapFS{"m/0001_a.sql": sql(""), "m/0001_b.sql": sql(""), "m/0002_c.sql": sql("")},
			wantErr: "found 1 at position 2",
		},
		{
			name:    "same version, different padding",
			files:   fstest.MapFS{"m/0001_a.sql": sql(""), "m/1_b.sql": sql("")},
			wantErr: "found 1 at position 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
