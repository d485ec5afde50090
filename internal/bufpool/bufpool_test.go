package bufpool

import "testing"

func TestGetReusesAKeptBuffer(t *testing.T) {
	p := New(1)
	b := p.Get(100)
	if len(b) != 100 {
		t.Fatalf("len %d, want 100", len(b))
	}
	p.Put(b)
	c := p.Get(50)
	if len(c) != 50 || &c[0] != &b[0] {
		t.Fatalf("Get(50) after Put of a 100-byte buffer did not reuse it")
	}
}

func TestGetMakesALargerBufferThanTheKeptOne(t *testing.T) {
	p := New(1)
	p.Put(make([]byte, 10))
	if b := p.Get(20); len(b) != 20 {
		t.Fatalf("len %d, want 20", len(b))
	}
}

func TestPutKeepsAtMostN(t *testing.T) {
	p := New(2)
	for range 3 {
		p.Put(make([]byte, 8))
	}
	if n := len(p.free); n != 2 {
		t.Fatalf("keeps %d buffers, want 2", n)
	}
}

func TestNilPoolAllocates(t *testing.T) {
	var p *Pool
	b := p.Get(4)
	p.Put(b)
	if len(b) != 4 {
		t.Fatalf("len %d, want 4", len(b))
	}
}
