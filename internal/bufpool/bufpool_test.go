package bufpool

import "testing"

func TestGetReusesAKeptBuffer(t *testing.T) {
	p := New(1, 0)
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
	p := New(1, 0)
	p.Put(make([]byte, 10))
	if b := p.Get(20); len(b) != 20 {
		t.Fatalf("len %d, want 20", len(b))
	}
}

func TestPutKeepsAtMostN(t *testing.T) {
	p := New(2, 0)
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

func TestGetMakesRoomForMinSize(t *testing.T) {
	p := New(1, 64)
	b := p.Get(10)
	if len(b) != 10 || cap(b) < 64 {
		t.Fatalf("len %d cap %d, want 10 and at least 64", len(b), cap(b))
	}
	p.Put(b)
	if c := p.Get(60); &c[0] != &b[0] {
		t.Fatal("a kept buffer with room for 60 bytes was not reused")
	}
}

func TestDrainDropsTheKeptBuffers(t *testing.T) {
	p := New(2, 0)
	b := p.Get(8)
	p.Put(b)
	p.Drain()
	if c := p.Get(8); &c[0] == &b[0] {
		t.Fatal("Get after Drain returned a buffer kept before it")
	}
}
