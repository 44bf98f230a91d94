Console.WriteLine("benchmarks: no suites yet");
return 0;
