// SPDX-License-Identifier: GPL-2.0
// The JVM workload: java -cp DIR Heap RECORDS (run.py compiles it with the
// runtime's own jdk.compiler module: Debian's JRE has it, not javac).
//
// Builds RECORDS records (an object of an int, a String and an int[3] each),
// says "ready", then for each "pass" line on stdin reads every record, runs a
// full collection (System.gc(): G1 marks and compacts the whole heap) and
// prints "pass CHECKSUM NS". Like V8, the JVM counts no references: the heap
// pages a unit of work writes are the collector's.
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class Heap {
	static final class Rec {
		final int k;
		final String s;
		final int[] v;

		Rec(int i) {
			k = i;
			s = String.format("r%09d", i);
			v = new int[] { i, 2 * i, 3 * i };
		}
	}

	public static void main(String[] args) throws Exception {
		int records = Integer.parseInt(args[0]);
		Rec[] data = new Rec[records];
		for (int i = 0; i < records; i++)
			data[i] = new Rec(i);
		System.out.println("ready");
		System.out.flush();
		BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
		String line;
		while ((line = in.readLine()) != null && line.trim().equals("pass")) {
			long start = System.nanoTime();
			int s = 0;
			for (Rec d : data)
				s = s * 31 + d.k + d.s.length() + d.v[2];
			System.gc();
			System.out.println("pass " + Integer.toUnsignedString(s) + " " + (System.nanoTime() - start));
			System.out.flush();
		}
	}
}
