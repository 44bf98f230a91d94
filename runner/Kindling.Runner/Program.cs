Console.WriteLine("kindling: nothing to run yet");
return 0;
