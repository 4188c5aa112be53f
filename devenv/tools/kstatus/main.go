// Command kstatus prints what sigs.k8s.io/cli-utils/pkg/kstatus (the library behind Flux's
// health checks and `kubectl wait`-style tooling) computes for Kubernetes objects.
//
// It reads a YAML stream of objects on stdin and writes one JSON object per input object:
//
//	{"name": "...", "status": "Current|InProgress|Failed|Terminating|NotFound|Unknown", "message": "..."}
//
// The operator's tests feed it the same DynamoBackupRoles as the Argo CD health check, so that
// both agree with the state table in docs/install.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	encoder := json.NewEncoder(out)
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(document)) == 0 {
			continue
		}
		asJSON, err := utilyaml.ToJSON(document)
		if err != nil {
			return err
		}
		// UnmarshalJSON keeps integers int64, as the API machinery expects of metadata.generation.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(asJSON); err != nil {
			return err
		}
		result, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s: %w", u.GetName(), err)
		}
		if err := encoder.Encode(verdict{u.GetName(), result.Status.String(), result.Message}); err != nil {
			return err
		}
	}
}
