// Package blobtest checks that an implementation of blob.Store behaves as
// the interface documents. Each implementation's tests call Run.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/rampart-tuf/rampart/server/blob"
)

// BigSize is the length of the large blob Run stores: over three chunks
// of an implementation that splits blobs into chunks of 1 MiB, and not a
// multiple of any power of two.
const BigSize = 3<<20 + 12345

// Content returns n bytes of pseudo-random content, the same for the same
// n and seed.
func Content(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Run runs the conformance tests; open returns an empty store, which the
// test may use until it ends.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"WrongDigest", testWrongDigest},
		{"MalformedDigest", testMalformedDigest},
		{"TooLarge", testTooLarge},
		{"ReadError", testReadError},
		{"Canceled", testCanceled},
		{"Reupload", testReupload},
		{"Seek", testSeek},
		{"Missing", testMissing},
		{"Closed", testClosed},
		{"ConcurrentPut", testConcurrentPut},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// bigContent is the large blob of the tests, BigSize bytes.
var bigContent = sync.OnceValue(func() []byte { return Content(BigSize, 1) })

func testRoundTrip(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	for _, content := range [][]byte{{}, []byte("hello"), Content(100<<10, 2), big} {
		info, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), SHA256(content))
		if err != nil {
			t.Fatalf("Put of %d bytes: %v", len(content), err)
		}
		sum512 := sha512.Sum512(content)
		want := blob.Info{SHA256: SHA256(content), SHA512: hex.EncodeToString(sum512[:]), Length: int64(len(content))}
		if info != want {
			t.Errorf("Put of %d bytes = %+v, want %+v", len(content), info, want)
		}
		checkContent(t, s, content)
	}
}

func testWrongDigest(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	other := SHA256([]byte("other"))
	for _, content := range [][]byte{[]byte("hello"), big} {
		if _, err := s.Put(ctx, bytes.NewReader(content), BigSize, other); !errors.Is(err, blob.ErrDigest) {
			t.Errorf("Put of %d bytes under another digest: %v, want ErrDigest", len(content), err)
		}
		checkMissing(t, s, SHA256(content))
	}
	checkMissing(t, s, other)
}

func testMalformedDigest(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, want := range []string{"", "zz", strings.ToUpper(SHA256([]byte("hello"))), SHA256([]byte("hello")) + "00", "../" + SHA256([]byte("hello"))[3:]} {
		if _, err := s.Put(ctx, strings.NewReader("hello"), 100, want); err == nil {
			t.Errorf("Put with expected digest %q succeeded", want)
		}
	}
	checkMissing(t, s, SHA256([]byte("hello")))
}

func testTooLarge(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	for _, content := range [][]byte{Content(1000, 3), big} {
		n := int64(len(content))
		if _, err := s.Put(ctx, bytes.NewReader(content), n-1, SHA256(content)); !errors.Is(err, blob.ErrTooLarge) {
			t.Errorf("Put of %d bytes with limit %d: %v, want ErrTooLarge", n, n-1, err)
		}
		checkMissing(t, s, SHA256(content))
	}
	// Right at the limit is fine.
	content := Content(1000, 3)
	if _, err := s.Put(ctx, bytes.NewReader(content), 1000, SHA256(content)); err != nil {
		t.Fatalf("Put of 1000 bytes with limit 1000: %v", err)
	}
	checkContent(t, s, content)
}

func testReadError(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	boom := errors.New("connection reset by the test")
	r := io.MultiReader(bytes.NewReader(big[:BigSize/2]), iotest.ErrReader(boom))
	if _, err := s.Put(ctx, r, BigSize, SHA256(big)); !errors.Is(err, boom) {
		t.Errorf("Put from a failing reader: %v, want the reader's error", err)
	}
	checkMissing(t, s, SHA256(big))
}

func testCanceled(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, bytes.NewReader(big), BigSize, SHA256(big)); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	checkMissing(t, s, SHA256(big))
}

func testReupload(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	first, err := s.Put(ctx, bytes.NewReader(big), BigSize, SHA256(big))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, bytes.NewReader(big), BigSize, SHA256(big))
	if err != nil || again != first {
		t.Fatalf("second Put of the same content = %+v, %v; want %+v", again, err, first)
	}
	// What is sent is still checked against the digest and the limit.
	wrong := bytes.Clone(big)
	wrong[BigSize/2] ^= 1
	if _, err := s.Put(ctx, bytes.NewReader(wrong), BigSize, SHA256(big)); !errors.Is(err, blob.ErrDigest) {
		t.Errorf("Put of other content under a stored digest: %v, want ErrDigest", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(big), BigSize-1, SHA256(big)); !errors.Is(err, blob.ErrTooLarge) {
		t.Errorf("Put of stored content over the limit: %v, want ErrTooLarge", err)
	}
	checkContent(t, s, big)
}

func testSeek(t *testing.T, s blob.Store) {
	ctx := context.Background()
	big := bigContent()
	if _, err := s.Put(ctx, bytes.NewReader(big), BigSize, SHA256(big)); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(ctx, SHA256(big))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != BigSize {
		t.Fatalf("Size = %d, want %d", b.Size(), BigSize)
	}
	const mib = 1 << 20
	// Forwards, backwards, within a chunk, across one and two chunk
	// boundaries, and up to the end.
	for _, r := range []struct{ off, n int64 }{
		{0, 10}, {mib - 5, 10}, {10, 20}, {3*mib - 1, 2}, {mib - 100, mib + 200}, {2 * mib, mib},
		{BigSize - 7, 7}, {0, BigSize}, {mib + 1, 1}, {BigSize - 3, 100},
	} {
		pos, err := b.Seek(r.off, io.SeekStart)
		if err != nil || pos != r.off {
			t.Fatalf("Seek(%d, SeekStart) = %d, %v", r.off, pos, err)
		}
		want := big[r.off:min(r.off+r.n, BigSize)]
		got := make([]byte, r.n)
		n, err := io.ReadFull(b, got)
		if int64(len(want)) < r.n && !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(want)) == r.n && err != nil {
			t.Fatalf("reading %d bytes at %d: %d, %v", r.n, r.off, n, err)
		}
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("%d bytes at %d differ from the content", r.n, r.off)
		}
		if pos, err := b.Seek(0, io.SeekCurrent); err != nil || pos != r.off+int64(n) {
			t.Fatalf("Seek(0, SeekCurrent) after reading %d bytes at %d = %d, %v", n, r.off, pos, err)
		}
	}
	if pos, err := b.Seek(-mib-10, io.SeekEnd); err != nil || pos != BigSize-mib-10 {
		t.Fatalf("Seek(-%d, SeekEnd) = %d, %v", mib+10, pos, err)
	}
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, big[BigSize-mib-10:]) {
		t.Fatalf("reading after Seek from the end: %d bytes, %v", len(got), err)
	}
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative offset succeeded")
	}
	if pos, err := b.Seek(BigSize+10, io.SeekStart); err != nil || pos != BigSize+10 {
		t.Fatalf("Seek past the end = %d, %v", pos, err)
	}
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v; want 0, io.EOF", n, err)
	}
	// The whole blob through a small odd-sized buffer, as
	// http.ServeContent copies it.
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := io.CopyBuffer(struct{ io.Writer }{&buf}, struct{ io.Reader }{b}, make([]byte, 4097)); err != nil || !bytes.Equal(buf.Bytes(), big) {
		t.Fatalf("copying the whole blob: %d bytes, %v", buf.Len(), err)
	}
	if err := iotest.TestReader(io.NewSectionReader(readerAt{b}, mib-5000, 10000), big[mib-5000:mib+5000]); err != nil {
		t.Fatal(err)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if _, err := s.Put(ctx, strings.NewReader("hello"), 100, SHA256([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	for _, sum := range []string{SHA256([]byte("never stored")), "", "zz", strings.ToUpper(SHA256([]byte("hello"))), "../../etc/passwd"} {
		checkMissing(t, s, sum)
	}
}

func testClosed(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if _, err := s.Put(ctx, strings.NewReader("hello"), 100, SHA256([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(ctx, SHA256([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(make([]byte, 5)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func testConcurrentPut(t *testing.T, s blob.Store) {
	ctx := context.Background()
	content := Content(3<<19+7, 4) // 1.5 MiB and a bit
	wrong := bytes.Clone(content)
	wrong[len(wrong)-1] ^= 1
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			c := content
			if i%5 == 4 { // two of the ten send other content
				c = wrong
			}
			var info blob.Info
			info, errs[i] = s.Put(ctx, bytes.NewReader(c), int64(len(c)), SHA256(content))
			if errs[i] == nil && info.Length != int64(len(content)) {
				errs[i] = fmt.Errorf("Info.Length = %d", info.Length)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%5 == 4 && !errors.Is(err, blob.ErrDigest) {
			t.Errorf("concurrent Put %d of wrong content: %v, want ErrDigest", i, err)
		} else if i%5 != 4 && err != nil {
			t.Errorf("concurrent Put %d: %v", i, err)
		}
	}
	checkContent(t, s, content)
}

// readerAt reads a Blob at offsets, for iotest.TestReader through
// io.SectionReader.
type readerAt struct{ b blob.Blob }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.b.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.b, p)
}

// checkContent checks that s holds content, byte for byte.
func checkContent(t *testing.T, s blob.Store, content []byte) {
	t.Helper()
	b, err := s.Open(context.Background(), SHA256(content))
	if err != nil {
		t.Fatalf("Open of stored content: %v", err)
	}
	defer b.Close()
	if b.Size() != int64(len(content)) {
		t.Errorf("Size = %d, want %d", b.Size(), len(content))
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading a blob of %d bytes: %v", len(content), err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes that differ from the %d stored", len(got), len(content))
	}
}

// checkMissing checks that s holds no blob sum.
func checkMissing(t *testing.T, s blob.Store, sum string) {
	t.Helper()
	b, err := s.Open(context.Background(), sum)
	if err == nil {
		b.Close()
		t.Fatalf("Open(%q) found a blob that should not be there", sum)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%q) = %v, want an error matching fs.ErrNotExist", sum, err)
	}
}
