package keys_test

import (
	"context"
	"fmt"
	"log"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

func Example() {
	priv, err := keys.Generate("ed25519")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := keys.NewSigner(priv, "")
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte(`{"_type":"timestamp","version":1}`)
	sig, err := signer.Sign(context.Background(), msg)
	if err != nil {
		log.Fatal(err)
	}

	// A client builds the verifier from the key object in root metadata.
	pk := signer.PublicKey()
	v, err := keys.NewVerifier(pk)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pk.Type, pk.Scheme, v.Verify(msg, sig))
	fmt.Println(v.Verify([]byte("tampered"), sig))
	// Output:
	// ed25519 ed25519 <nil>
	// keys: ed25519/ed25519: signature does not match
}
