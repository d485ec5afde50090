package signerd

import (
	"encoding/json"

	"google.golang.org/grpc/mem"
)

// Codec is the gRPC codec of the service: messages are JSON. Both ends
// force it (grpc.ForceServerCodecV2, grpc.ForceCodecV2), so it is not
// registered globally.
type Codec struct{}

// Name implements encoding.CodecV2; it is the content subtype, sent as
// "application/grpc+json".
func (Codec) Name() string { return "json" }

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	return json.Unmarshal(data.Materialize(), v)
}
